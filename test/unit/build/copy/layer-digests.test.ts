// The COPY --from digest memo: keyed by the source layers and every step
// input the digest reads, absent for context sources, a torn file is a
// miss, and prune removes every memo.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { layerDigestMemo, pruneLayerDigestMemos, readLayerDigests, writeLayerDigests } from '../../../../src/build/copy/layer-digests.js';
import type { CopyStep } from '../../../../src/build/copy/types.js';

let root: string;
afterEach(() => rmSync(root, { recursive: true, force: true }));

const step = (over: Partial<CopyStep> = {}, ins: Record<string, unknown> = {}): CopyStep => ({
  instruction: { kind: 'copy', line: 3, sources: ['/app/node_modules'], dest: './node_modules', from: 'deps', chown: null, chmod: null, exclude: [], parents: false, link: false, ...ins } as unknown as CopyStep['instruction'],
  source: { kind: 'layers', layerDirs: ['/s/layers/aa/diff', '/s/layers/bb/diff'] },
  targetLayers: ['/s/layers/aa/diff'],
  workdir: '/app',
  containerfile: 'Containerfile',
  ...over,
});

it('keys a memo by the source layers and the step inputs, and has none for the context', () => {
  root = mkdtempSync(join(tmpdir(), 'tsbuild-ldm-'));
  const base = layerDigestMemo(root, step());
  expect(base).toMatch(/copy-from-digests\/[0-9a-f]{64}$/);
  expect(layerDigestMemo(root, step())).toBe(base);
  expect(layerDigestMemo(root, step({ targetLayers: ['/s/layers/cc/diff'] }))).toBe(base); // the target stage is not an input
  const others = [
    step({ source: { kind: 'layers', layerDirs: ['/s/layers/aa/diff', '/s/layers/dd/diff'] } }),
    step({ workdir: '/srv' }),
    step({ clampMtime: 1700000000 }),
    step({}, { chmod: '0755' }),
    step({}, { exclude: ['*.md'] }),
    step({}, { sources: ['/app/dist'] }),
  ].map((s) => layerDigestMemo(root, s));
  expect(new Set([base, ...others]).size).toBe(7);
  expect(layerDigestMemo(root, step({ source: { kind: 'context', dir: '/ctx' } }))).toBeUndefined();
});

it('reads back what was written, treats a torn file as a miss, and prune removes all', () => {
  root = mkdtempSync(join(tmpdir(), 'tsbuild-ldm-'));
  const file = layerDigestMemo(root, step()) as string;
  expect(readLayerDigests(file)).toBeUndefined();
  const d = { exact: `sha256:${'1'.repeat(64)}`, retime: `sha256:${'2'.repeat(64)}` };
  writeLayerDigests(file, d);
  expect(readLayerDigests(file)).toEqual(d);
  writeFileSync(file, '{"exact":"sha256:12');
  expect(readLayerDigests(file)).toBeUndefined();
  writeLayerDigests(file, d);
  expect(pruneLayerDigestMemos(root)).toBeGreaterThan(0);
  expect(existsSync(file)).toBe(false);
  expect(pruneLayerDigestMemos(root)).toBe(0);
});
