// The benchmark harness's pure parts (bench/lib): medians, the fixed-seed
// input generators (the same bytes on every machine), the reading of
// tsbuild's --progress json events into a per-step breakdown, and the
// cpu-profile summary. No root, no tools: the scenarios themselves are
// exercised by test/integration/bench.
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error: plain .mjs modules without type declarations
import { median, parseOptions } from '../../../bench/lib/measure.mjs';
// @ts-expect-error: plain .mjs modules without type declarations
import { randomBytesFrom, writeLargeContext } from '../../../bench/lib/inputs.mjs';
import { prng } from '../../../scripts/lib/prng.mjs';
// @ts-expect-error: plain .mjs modules without type declarations
import { stepsOf } from '../../../bench/lib/breakdown.mjs';
// @ts-expect-error: plain .mjs modules without type declarations
import { parseEvents } from '../../../bench/lib/tsbuild.mjs';
// @ts-expect-error: plain .mjs modules without type declarations
import { summariseCpuProfile } from '../../../bench/lib/profile.mjs';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'bench-lib-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function treeDigest(dir: string): string {
  const h = createHash('sha256');
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const p = rel ? `${rel}/${name}` : name;
      const st = statSync(join(dir, p));
      h.update(`${p}\0`);
      if (st.isDirectory()) walk(p);
      else h.update(readFileSync(join(dir, p)));
    }
  };
  walk('');
  return h.digest('hex');
}

describe('bench/lib/measure', () => {
  it('takes the median of odd and even counts without reordering its input', () => {
    const xs = [5, 1, 3];
    expect(median(xs)).toBe(3);
    expect(xs).toEqual([5, 1, 3]);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('reads --quick, --runs and --strict, and rejects unknown options', () => {
    expect(parseOptions(['--quick', '--runs', '3', '--strict'])).toMatchObject({ quick: true, runs: 3, strict: true });
    expect(() => parseOptions(['--runs', '0'])).toThrow(/positive/);
    expect(() => parseOptions(['--fast'])).toThrow(/unknown option/);
  });
});

describe('bench/lib/inputs', () => {
  it('gives the same pseudo-random sequence and bytes for the same seed, different ones otherwise', () => {
    const a = prng(6);
    const b = prng(6);
    const seqA = [a(), a(), a()];
    expect([b(), b(), b()]).toEqual(seqA);
    for (const x of seqA) expect(x >= 0 && x < 1).toBe(true);
    expect(randomBytesFrom(1)(64).equals(randomBytesFrom(1)(64))).toBe(true);
    expect(randomBytesFrom(1)(64).equals(randomBytesFrom(2)(64))).toBe(false);
  });

  it('writes the large context with the asked shape, small files of 0.2-4 KB, identically on every run', () => {
    const one = join(tempDir(), 'ctx');
    const two = join(tempDir(), 'ctx');
    const size = { dirs: 3, files: 7, binMB: 1, textMB: 1 };
    expect(writeLargeContext(one, size)).toBe(3 * 7 + 2);
    writeLargeContext(two, size);
    expect(treeDigest(one)).toBe(treeDigest(two));
    const small = readdirSync(join(one, 'd001'));
    expect(small).toHaveLength(7);
    for (const f of small) {
      const s = statSync(join(one, 'd001', f)).size;
      expect(s).toBeGreaterThanOrEqual(200);
      expect(s).toBeLessThanOrEqual(4096);
    }
    expect(statSync(join(one, 'big.bin')).size).toBe(1 << 20);
    expect(statSync(join(one, 'big.txt')).size).toBe(1 << 20);
    expect(readFileSync(join(one, 'big.txt'), 'utf8').split('\n')[0]).toMatch(/^1: [a-z]+( [a-z]+)+$/);
  });
});

describe('bench/lib/breakdown', () => {
  it('groups executed steps by instruction and counts cached ones, skipping non-JSON lines', () => {
    const stderr = [
      'some warning',
      JSON.stringify({ type: 'step', stage: '0', n: 2, text: 'COPY . /ctx/' }),
      JSON.stringify({ type: 'done', stage: '0', step: 2, durationMs: 30, timings: { copy: 10, commit: 15 } }),
      JSON.stringify({ type: 'step', stage: '0', n: 3, text: 'run echo hi' }),
      JSON.stringify({ type: 'done', stage: '0', step: 3, durationMs: 20, timings: { run: 12, commit: 5 } }),
      JSON.stringify({ type: 'step', stage: '0', n: 4, text: 'ENV A=1' }),
      JSON.stringify({ type: 'done', stage: '0', step: 4, durationMs: 0 }),
      JSON.stringify({ type: 'step', stage: '0', n: 5, text: 'RUN true' }),
      JSON.stringify({ type: 'cached', stage: '0', step: 5 }),
    ].join('\n');
    const r = stepsOf(parseEvents(stderr));
    expect(r.steps.map((s: { kind: string }) => s.kind)).toEqual(['COPY', 'RUN']);
    expect(r.stepsMs).toBe(50);
    expect(r.cached).toBe(1);
  });
});

describe('bench/lib/profile', () => {
  it('sums self time per function and per module from a .cpuprofile', () => {
    const dir = tempDir();
    const path = join(dir, 'p.cpuprofile');
    const frame = (id: number, functionName: string, url: string) => ({ id, callFrame: { functionName, url, lineNumber: 9, columnNumber: 0, scriptId: '1' } });
    writeFileSync(path, JSON.stringify({
      nodes: [frame(1, '(root)', ''), frame(2, 'writeTar', 'file:///x/node_modules/tar-stream/pack.js'), frame(3, 'launch', 'node:child_process')],
      samples: [2, 2, 3, 1],
      timeDeltas: [1000, 3000, 2000, 500],
    }));
    const s = summariseCpuProfile(path);
    expect(s.total).toBeCloseTo(6.5);
    expect(s.functions[0]).toEqual({ key: 'writeTar /x/node_modules/tar-stream/pack.js:10', ms: 4 });
    expect(s.modules.find((m: { key: string }) => m.key === 'npm:tar-stream')?.ms).toBe(4);
    expect(s.modules.find((m: { key: string }) => m.key === 'node internals')?.ms).toBe(2);
  });
});
