/**
 * Callgrind knows no JavaScript: code that V8 compiled at run time shows as a bare address
 * (`0x00000000281d3f00`). Node run with `--perf-basic-prof` writes where each piece of compiled code lies
 * (`/tmp/perf-<pid>.map`: start, size, name, in hex); this names each such address in a callgrind dump by
 * the code it falls in, so `callgrind_annotate` shows `JS:*relayStream file:///...`. Approximate: the perf map
 * logs where code was put, not when it was freed, so an address is named by the last code logged over it.
 */
import { readFileSync, writeFileSync } from 'node:fs';

interface Code {
  start: number;
  end: number;
  name: string;
}

/** The perf map's entries in the order V8 logged them. */
function readPerfMap(path: string): Code[] {
  const codes: Code[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const match = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/i.exec(line);
    if (!match) continue;
    const start = Number.parseInt(match[1] as string, 16);
    codes.push({ start, end: start + Number.parseInt(match[2] as string, 16), name: match[3] as string });
  }
  return codes;
}

/**
 * Each of `addresses` named by the code logged last that covers it: V8 reuses code space that a collection
 * freed, so one address can lie in several logged codes, not always starting where it does (a newer code can
 * start below an older one and cover it), and live codes never overlap, so the one logged last is what
 * lay there at the end of the process. Past the warm-up little is compiled, so that is mostly what lay there
 * in the counted sections too. Naming by the nearest start below put openai's header-building code, 10k
 * instructions per call, on OpenTelemetry's `Span._getTime`.
 */
function namesAt(codes: readonly Code[], addresses: readonly number[]): Map<number, string> {
  const sorted = [...new Set(addresses)].sort((a, b) => a - b);
  const names = new Map<number, string>();
  for (const code of codes) {
    // The first address at or above the code's start, then every one inside it.
    let low = 0;
    let high = sorted.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if ((sorted[mid] as number) < code.start) low = mid + 1;
      else high = mid;
    }
    for (let i = low; i < sorted.length && (sorted[i] as number) < code.end; i++)
      names.set(sorted[i] as number, code.name);
  }
  return names;
}

const ANONYMOUS = /^(c?fn=\(\d+\)) 0x([0-9a-f]+)$/gm;

/** Rewrites the callgrind dump at `dump` in place, naming its anonymous addresses from `perfMap`. */
export function nameJitCode(dump: string, perfMap: string): void {
  const original = readFileSync(dump, 'utf8');
  const addresses = [...original.matchAll(ANONYMOUS)].map((found) => Number.parseInt(found[2] as string, 16));
  const names = namesAt(readPerfMap(perfMap), addresses);
  const text = original.replace(ANONYMOUS, (line, head: string, hex: string) => {
    const name = names.get(Number.parseInt(hex, 16));
    return name ? `${head} ${name} [0x${hex}]` : line;
  });
  writeFileSync(dump, text);
}

/**
 * A function's name whatever V8 did with it: without its address (the same function lies elsewhere in another
 * process) and its tier (`JS:*f`, `JS:+f`, `JS:^f`, `JS:~f`: Turbofan, Maglev, Sparkplug, the interpreter),
 * which two processes need not reach for the same function at the same call.
 */
function codeName(name: string): string {
  return name.replace(/ \[0x[0-9a-f]+\]$/, '').replace(/^JS:[*+^~]'?/, 'JS:');
}

/**
 * Self cost (instructions) per function in a callgrind dump. (callgrind_annotate 3.19 puts the whole of a
 * dump taken mid-run on the frame at its bottom, V8's `Invoke`, so this sums the dump itself.)
 */
export function selfCost(dump: string): Map<string, number> {
  const names = new Map<string, string>();
  const cost = new Map<string, number>();
  let current: string | undefined;
  let callLine = false;
  for (const line of readFileSync(dump, 'utf8').split('\n')) {
    const fn = /^(c?)fn=\((\d+)\)(?: (.*))?$/.exec(line);
    if (fn) {
      const [, called, id = '', name] = fn;
      if (name) names.set(id, name);
      // Named by code, not by address: the same function lies elsewhere in another process.
      if (!called) current = codeName(names.get(id) ?? id);
      continue;
    }
    if (line.startsWith('calls=')) {
      callLine = true; // the next cost line is the call's inclusive cost, not the function's own
      continue;
    }
    if (!/^[\d+\-*]/.test(line)) continue;
    if (callLine) {
      callLine = false;
      continue;
    }
    const value = Number(line.split(' ').at(-1));
    if (current && Number.isFinite(value)) cost.set(current, (cost.get(current) ?? 0) + value);
  }
  return cost;
}
