/**
 * Callgrind knows no JavaScript: code that V8 compiled at run time shows as a bare address
 * (`0x00000000281d3f00`). Node run with `--perf-basic-prof` writes where each piece of compiled code lies
 * (`/tmp/perf-<pid>.map`: start, size, name, in hex); this names each such address in a callgrind dump by
 * the code it falls in, so `callgrind_annotate` shows `JS:*relayStream file:///...`. Approximate: code that
 * V8 moved or freed after it was logged keeps the name it had when logged.
 */
import { readFileSync, writeFileSync } from 'node:fs';

interface Code {
  start: number;
  end: number;
  name: string;
}

function readPerfMap(path: string): Code[] {
  const codes: Code[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const match = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/i.exec(line);
    if (!match) continue;
    const start = Number.parseInt(match[1] as string, 16);
    codes.push({ start, end: start + Number.parseInt(match[2] as string, 16), name: match[3] as string });
  }
  // A stable sort: of two codes logged at one address, the later (the one that ran there last) comes last.
  return codes.sort((a, b) => a.start - b.start);
}

function nameAt(codes: readonly Code[], address: number): string | undefined {
  let low = 0;
  let high = codes.length - 1;
  let found: Code | undefined;
  while (low <= high) {
    const mid = (low + high) >> 1;
    const code = codes[mid] as Code;
    if (code.start <= address) {
      found = code;
      low = mid + 1;
    } else high = mid - 1;
  }
  return found && address < found.end ? found.name : undefined;
}

/** Rewrites the callgrind dump at `dump` in place, naming its anonymous addresses from `perfMap`. */
export function nameJitCode(dump: string, perfMap: string): void {
  const codes = readPerfMap(perfMap);
  const text = readFileSync(dump, 'utf8').replace(
    /^(c?fn=\(\d+\)) 0x([0-9a-f]+)$/gm,
    (line, head: string, hex: string) => {
      const name = nameAt(codes, Number.parseInt(hex, 16));
      return name ? `${head} ${name} [0x${hex}]` : line;
    },
  );
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
