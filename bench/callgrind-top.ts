/**
 * Where the instructions go in a dump the instruction-count suite kept (`npm run bench -- --only instructions
 * --callgrind-dir DIR`): the functions with the most self cost, per call, and with a second dump (say, bare
 * openai-node's same request) what the first adds over it.
 *
 *   npx tsx bench/callgrind-top.ts DIR/<ours>.callgrind [DIR/<bare>.callgrind] [--calls N] [--top N]
 */
import { parseArgs } from 'node:util';
import { selfCost } from './lib/callgrind-names.js';
import { table } from './lib/stats.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { calls: { type: 'string', default: '1' }, top: { type: 'string', default: '30' } },
});
const [dump, base] = positionals;
if (!dump) {
  console.error('usage: npx tsx bench/callgrind-top.ts DUMP [BASE_DUMP] [--calls N] [--top N]');
  process.exit(2);
}
const calls = Number(values.calls);
const ours = selfCost(dump);
const theirs = base ? selfCost(base) : new Map<string, number>();
const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
const rows = [...new Set([...ours.keys(), ...theirs.keys()])]
  .map((name) => ({ name, ours: ours.get(name) ?? 0, theirs: theirs.get(name) ?? 0 }))
  .sort((a, b) => (base ? b.ours - b.theirs - (a.ours - a.theirs) : b.ours - a.ours))
  .slice(0, Number(values.top));
const per = (v: number) => Math.round(v / calls).toLocaleString('en');
console.log(
  `${per(total(ours))} instructions per call${base ? `, against ${per(total(theirs))}` : ''} (${calls} calls)\n`,
);
console.log(
  table(
    base ? ['function', 'self per call', 'base', 'added'] : ['function', 'self per call'],
    rows.map((r) => {
      const name = r.name.length > 110 ? `${r.name.slice(0, 107)}...` : r.name;
      return base ? [name, per(r.ours), per(r.theirs), per(r.ours - r.theirs)] : [name, per(r.ours)];
    }),
  ),
);
