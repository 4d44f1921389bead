// The per-step resource report without a kernel: which measurement wins
// (cgroup over rusage, the fork's RSS as a floor), the record a step
// reports, its progress and history formatting, and the step key that
// finds a record again from an image's config.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chooseUsage } from '../../../../src/run/usage.js';
import { binarySize, memText, stepUsage, usageSummary } from '../../../../src/build/executor/step-usage.js';
import { imageStepUsage, readStepUsage, stepKey, writeStepUsage, type StepUsage } from '../../../../src/store/step-usage.js';
import { historyRows, historyTable } from '../../../../src/cli/cmd-history.js';
import type { ImageConfig } from '../../../../src/image/oci.js';

const MiB = 1 << 20;
const ID = `sha256:0123456789ab${'c'.repeat(52)}`;

describe('chooseUsage', () => {
  it("takes the cgroup's counters over rusage, and rusage's peak when the cgroup has none", () => {
    const rusage = { userUs: 900_000, sysUs: 100_000, peakBytes: 30 * MiB };
    expect(chooseUsage(rusage, { userUs: 1_500_000, sysUs: 500_000, peakBytes: 80 * MiB }, 20 * MiB)).toEqual({ userSeconds: 1.5, sysSeconds: 0.5, peakMemoryBytes: 80 * MiB, source: 'cgroup' });
    expect(chooseUsage(rusage, { userUs: 1, sysUs: 2, peakBytes: null })?.peakMemoryBytes).toBe(30 * MiB);
  });

  it('reports a rusage peak that does not clear the forked image as an upper bound only', () => {
    const at = (peak: number) => chooseUsage({ userUs: 0, sysUs: 0, peakBytes: peak }, undefined, 20 * MiB);
    expect(at(70 * MiB)).toEqual({ userSeconds: 0, sysSeconds: 0, peakMemoryBytes: 70 * MiB, source: 'rusage' });
    expect(at(21 * MiB)).toEqual({ userSeconds: 0, sysSeconds: 0, peakMemoryAtMostBytes: 21 * MiB, source: 'rusage' });
    expect(chooseUsage(undefined, undefined)).toBeUndefined();
  });
});

describe('stepUsage and its formatting', () => {
  it('sums user and sys, keeps the layer bytes and wall time', () => {
    const u = stepUsage({ userSeconds: 1.0004, sysSeconds: 0.25, peakMemoryBytes: 52 * MiB, source: 'rusage' }, 1234.6, 10 * MiB + 1536);
    expect(u).toEqual({ cpuSeconds: 1.25, userSeconds: 1, sysSeconds: 0.25, peakMemoryBytes: 52 * MiB, source: 'rusage', layerBytes: 10 * MiB + 1536, wallSeconds: 1.235 });
    expect(usageSummary(u)).toBe('cpu 1.25s, mem 52.0MiB, +10.0MiB');
  });

  it('prints binary sizes and marks an upper bound', () => {
    expect(binarySize(0)).toBe('0B');
    expect(binarySize(1536)).toBe('1.5KiB');
    expect(binarySize(3 * 1024 * MiB)).toBe('3.0GiB');
    const bound = stepUsage({ userSeconds: 0, sysSeconds: 0, peakMemoryAtMostBytes: 5 * MiB, source: 'rusage' }, 10, 0);
    expect(memText(bound)).toBe('<=5.0MiB');
    expect(memText(stepUsage({ userSeconds: 0, sysSeconds: 0, source: 'cgroup' }, 10, 0))).toBe('-');
  });
});

const config = (): Pick<ImageConfig, 'history' | 'rootfs'> => ({
  rootfs: { type: 'layers', diff_ids: ['sha256:aa', 'sha256:bb'] },
  history: [
    { created: '2026-01-01T00:00:00Z', created_by: 'base' },
    { created_by: 'ENV A=1', empty_layer: true },
    { created: '2026-01-02T00:00:00Z', created_by: '/bin/sh -c make' },
    { created: '2026-01-02T00:00:01Z', created_by: '/bin/sh -c true', empty_layer: true },
  ],
});

describe('stepKey', () => {
  it('names a step by its entry and the layers up to it, not by what comes after or the times filled in before it', () => {
    const c = config();
    const k = stepKey(c, 2);
    expect(stepKey({ ...c, history: [...(c.history ?? []), { created_by: 'CMD x', empty_layer: true }], rootfs: { type: 'layers', diff_ids: [...c.rootfs.diff_ids, 'sha256:cc'] } }, 2)).toBe(k);
    // An image's final times fill config-only entries (BuildKit's rule): the RUN step's key stays.
    const filled = { ...c, history: c.history?.map((h) => (h.created ? h : { ...h, created: '2026-01-01T00:00:00Z' })) };
    expect(stepKey(filled, 2)).toBe(k);
    expect(stepKey(c, 3)).not.toBe(k);
    expect(stepKey({ ...c, rootfs: { type: 'layers', diff_ids: ['sha256:aa', 'sha256:b2'] } }, 2)).not.toBe(k);
  });

  it('finds records written under it, index-aligned with the history', () => {
    const root = mkdtempSync(join(tmpdir(), 'tsbuild-unit-usage-'));
    try {
      const u: StepUsage = { cpuSeconds: 1, userSeconds: 1, sysSeconds: 0, source: 'rusage', layerBytes: 5, wallSeconds: 2 };
      writeStepUsage(root, stepKey(config(), 2), u);
      expect(readStepUsage(root, stepKey(config(), 2))).toEqual(u);
      expect(imageStepUsage(root, config())).toEqual([undefined, undefined, u, undefined]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('history', () => {
  const u: StepUsage = { cpuSeconds: 1.234, userSeconds: 1, sysSeconds: 0.234, peakMemoryBytes: 50 * MiB, source: 'rusage', layerBytes: 10_485_760, wallSeconds: 2 };
  const rows = historyRows(ID, config(), [2_000_000, 9_999], [undefined, undefined, u, undefined]);

  it('lists entries newest first, the ID on the top one, layer sizes on layer entries', () => {
    expect(rows.map((r) => [r.id, r.createdBy, r.size, r.usage?.cpuSeconds])).toEqual([
      [ID, '/bin/sh -c true', 0, undefined],
      ['<missing>', '/bin/sh -c make', 10_485_760, 1.234],
      ['<missing>', 'ENV A=1', 0, undefined],
      ['<missing>', 'base', 2_000_000, undefined],
    ]);
  });

  it("prints docker's columns plus CPU and MEM, truncating CREATED BY unless told not to", () => {
    const long = historyRows(ID, { rootfs: { type: 'layers', diff_ids: [] }, history: [{ created_by: `/bin/sh -c ${'x'.repeat(60)}`, empty_layer: true }] }, [], [u]);
    const now = Date.parse('2026-01-02T00:01:00Z');
    const table = historyTable([...long, ...rows], { noTrunc: false, now }).split('\n');
    expect(table[0]).toMatch(/^IMAGE +CREATED +CREATED BY +SIZE +COMMENT +CPU +MEM$/);
    expect(table[1]).toContain(`/bin/sh -c ${'x'.repeat(33)}…`);
    expect(table[1]).toMatch(/^0123456789ab +N\/A /);
    expect(table[3]).toMatch(/^<missing> +About a minute ago +\/bin\/sh -c make +10\.5MB +1\.23s +50\.0MiB$/);
    expect(table[5]).toMatch(/2MB$/);
    expect(historyTable(long, { noTrunc: true, now })).toContain(`/bin/sh -c ${'x'.repeat(60)} `);
  });
});
