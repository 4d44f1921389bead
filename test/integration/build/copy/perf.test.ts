// COPY of a large tree: 20,000 small files in 200 directories plus two
// large files, all copied with their content and mtimes. The time against a
// plain loop of the same syscalls is printed for whoever reads the log, but
// not asserted: speed is the benchmarks' job (bench/large-context.mjs),
// and a timed assertion here would only fail on a busy machine.
import { constants, copyFileSync, existsSync, lutimesSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { applyCopy, copySourceDigest } from '../../../../src/build/copy/index.js';
import { contextStep, copyIns } from '../../../shared/copy-steps.js';

const base = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'tsb-copy-perf-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

function fixture(): string {
  const ctx = join(base, 'ctx');
  for (let d = 0; d < 200; d++) {
    mkdirSync(join(ctx, `d${d}`), { recursive: true });
    for (let f = 0; f < 100; f++) writeFileSync(join(ctx, `d${d}/f${f}`), `${d}/${f}\n`.repeat(8));
  }
  const chunk = randomBytes(1 << 20);
  for (const [name, mb] of [['big1', 64], ['big2', 70]] as const) {
    const parts = Array.from({ length: mb }, () => chunk);
    writeFileSync(join(ctx, name), Buffer.concat(parts));
  }
  return ctx;
}

/** The same work without the engine: the floor for this filesystem right now. */
function baseline(ctx: string): number {
  const dst = join(base, 'baseline');
  const t = performance.now();
  mkdirSync(dst);
  for (const d of readdirSync(ctx)) {
    const s = statSync(join(ctx, d));
    if (!s.isDirectory()) {
      copyFileSync(join(ctx, d), join(dst, d), constants.COPYFILE_EXCL);
      continue;
    }
    mkdirSync(join(dst, d));
    for (const f of readdirSync(join(ctx, d))) {
      const st = statSync(join(ctx, d, f));
      copyFileSync(join(ctx, d, f), join(dst, d, f), constants.COPYFILE_EXCL);
      lutimesSync(join(dst, d, f), st.mtimeMs / 1000, st.mtimeMs / 1000);
    }
  }
  const ms = performance.now() - t;
  rmSync(dst, { recursive: true });
  return ms;
}

describe('COPY of a large tree', () => {
  it('copies every file with its content and mtime (timings printed, not asserted)', async () => {
    const ctx = fixture();
    const step = contextStep(copyIns(['.'], '/app/'), ctx);
    const floor = baseline(ctx);
    let t = performance.now();
    const digest = await copySourceDigest(step);
    const digestMs = performance.now() - t;
    const layer = join(base, 'layer');
    t = performance.now();
    await applyCopy(step, layer);
    const applyMs = performance.now() - t;
    console.log(`COPY 20,000 files + 134 MB: digest ${digestMs.toFixed(0)} ms, apply ${applyMs.toFixed(0)} ms, raw loop ${floor.toFixed(0)} ms (ratio ${(applyMs / floor).toFixed(2)})`);
    expect(digest).toMatch(/^sha256:/);
    expect(readdirSync(join(layer, 'app'))).toHaveLength(202);
    expect(statSync(join(layer, 'app/big2')).size).toBe(70 << 20);
    // Content and mtimes arrive intact, small and large
    expect(readFileSync(join(layer, 'app/d199/f99'), 'utf8')).toBe('199/99\n'.repeat(8));
    // (to within 10 µs: the time travels as a double of seconds through utimes)
    expect(Math.abs(statSync(join(layer, 'app/d7/f3')).mtimeMs - statSync(join(ctx, 'd7/f3')).mtimeMs)).toBeLessThan(0.01);
    expect(readFileSync(join(layer, 'app/big1')).equals(readFileSync(join(ctx, 'big1')))).toBe(true);
  });
});
