// The COPY --from digest memo through the real CLI: a repeated build reads
// the step's digest from ROOT/cache/copy-from-digests instead of walking
// the source stage; a changed source stage makes new layers, so a new key,
// and the step runs again with the new content; prune removes the memos.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { busyboxLayout, tempRoot, tsbuild } from '../fixtures.js';
import { buildOk, layerSteps } from './progress-steps.js';

let root: string;
let cleanup: () => void;
let ctx: string;
let file: string;

beforeAll(() => {
  ({ root, cleanup } = tempRoot('copy-from-memo'));
  const loaded = tsbuild(root, ['load', '-i', busyboxLayout]);
  if (loaded.status !== 0) throw new Error(loaded.stderr);
  ctx = join(root, 'ctx');
  file = join(root, 'Containerfile');
  writeFileSync(file, 'FROM busybox:stable AS deps\nCOPY src /src\nRUN mkdir /out && cp /src/* /out/\nFROM busybox:stable\nCOPY --from=deps /out /app\n');
});

afterAll(() => cleanup?.());

/** The outcome line of the --from step (stages run in parallel, so not necessarily the last line). */
const fromStep = (lines: string[]) => layerSteps(lines).find((l) => l.startsWith('COPY --from'));

const memos = () => {
  try {
    return readdirSync(join(root, 'cache/copy-from-digests'));
  } catch {
    return [];
  }
};

it('reuses the memo while the source stage is unchanged and misses when it changes', () => {
  mkdirSync(join(ctx, 'src'), { recursive: true });
  writeFileSync(join(ctx, 'src/a.txt'), 'one\n');
  const s1 = buildOk(root, ['-f', file, '-t', 'memo:1', ctx]);
  expect(fromStep(s1)).toBe('COPY --from=deps /out /app => built');
  expect(memos()).toHaveLength(1);

  // The memo is what the second build reads: a planted digest (no layer has it) makes the step miss.
  const memo = join(root, 'cache/copy-from-digests', memos()[0] as string);
  writeFileSync(memo, JSON.stringify({ exact: `sha256:${'0'.repeat(64)}` }));
  const s2 = buildOk(root, ['-f', file, '-t', 'memo:2', ctx]);
  expect(layerSteps(s2).filter((l) => !l.startsWith('COPY --from')).every((l) => l.endsWith('=> cached'))).toBe(true);
  expect(fromStep(s2)).toBe('COPY --from=deps /out /app => built');
  const s3 = buildOk(root, ['-f', file, '-t', 'memo:3', ctx]);
  expect(layerSteps(s3).every((l) => l.endsWith('=> cached')), layerSteps(s3).join('\n')).toBe(true);

  writeFileSync(join(ctx, 'src/a.txt'), 'two\n');
  const s4 = buildOk(root, ['-f', file, '-t', 'memo:4', ctx]);
  expect(fromStep(s4)).toBe('COPY --from=deps /out /app => built');
  expect(memos()).toHaveLength(2);
  const cat = tsbuild(root, ['run', '--rm', 'memo:4', 'cat', '/app/a.txt']);
  expect(cat.stdout).toBe('two\n');

  const pruned = tsbuild(root, ['prune']);
  expect(pruned.status, pruned.stderr).toBe(0);
  expect(memos()).toEqual([]);
});
