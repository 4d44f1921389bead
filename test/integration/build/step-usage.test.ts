// The per-step resource report through the real CLI: RUN steps that burn
// CPU (directly and in an orphaned grandchild, which reparents to the
// container's PID 1), allocate 50 MiB, and write a 10 MiB file report at
// least that much, in plain and json progress and in `tsbuild history`; with
// a memory limit the figures come from the step's cgroup. Only loose lower
// bounds on measured resources: the burner stops by its own CPU clock
// (/proc/self/stat utime), never by wall time.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxLayout, tempRoot, tsbuild } from '../fixtures.js';
import { storeTag } from '../../../src/run/cgroups.js';

let root: string;
let cleanup: () => void;
let ctx: string;

const MiB = 1 << 20;
// Loops until this shell has used 1 s of user CPU (100 ticks of USER_HZ).
const BURN = 'while [ "$(cut -d" " -f14 /proc/$$/stat)" -lt 100 ]; do i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done; done\n';
const CONTAINERFILE = `FROM busybox:stable
COPY burn.sh /burn.sh
RUN sh /burn.sh
RUN sh -c 'sh -c "sh /burn.sh; touch /tmp/burnt" &'; while [ ! -e /tmp/burnt ]; do sleep 0.1; done
RUN dd if=/dev/zero of=/dev/null bs=50M count=1
RUN dd if=/dev/zero of=/ten bs=1M count=10
ENV DONE=1
`;

interface Usage { cpuSeconds: number; userSeconds: number; sysSeconds: number; peakMemoryBytes?: number; peakMemoryAtMostBytes?: number; source: string; layerBytes: number; wallSeconds: number }
interface Event { type: string; n?: number; step?: number; text?: string; usage?: Usage }

beforeAll(() => {
  ({ root, cleanup } = tempRoot('step-usage'));
  const loaded = tsbuild(root, ['load', '-i', busyboxLayout]);
  if (loaded.status !== 0) throw new Error(loaded.stderr);
  ctx = join(root, 'ctx');
  mkdirSync(ctx);
  writeFileSync(join(ctx, 'Containerfile'), CONTAINERFILE);
  writeFileSync(join(ctx, 'burn.sh'), BURN);
});

afterAll(() => cleanup?.());

/** The usage of each finished step, by the step's text (from its `step` event). */
function buildJson(tag: string, extra: string[] = []): Map<string, Usage | undefined> {
  const r = tsbuild(root, ['build', '--progress', 'json', '-f', join(ctx, 'Containerfile'), '-t', tag, ...extra, ctx], { timeout: 240_000 });
  expect(r.status, r.stderr).toBe(0);
  const events = r.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Event);
  const texts = new Map(events.filter((e) => e.type === 'step').map((e) => [e.n, e.text ?? '']));
  return new Map(events.filter((e) => e.type === 'done' || e.type === 'cached').map((e) => [texts.get(e.step) ?? '', e.usage]));
}

function step(by: Map<string, Usage | undefined>, needle: string): Usage | undefined {
  const hits = [...by.keys()].filter((k) => k.includes(needle));
  expect(hits, needle).toHaveLength(1);
  return by.get(hits[0] as string);
}

function expectFigures(by: Map<string, Usage | undefined>, source: string): void {
  const burn = step(by, 'RUN sh /burn.sh');
  const orphan = step(by, 'touch /tmp/burnt');
  const alloc = step(by, 'bs=50M');
  const file = step(by, 'of=/ten');
  expect(burn?.cpuSeconds, JSON.stringify(burn)).toBeGreaterThanOrEqual(0.5);
  // The grandchild is orphaned at once and reparents to PID 1: its CPU is still the step's.
  expect(orphan?.cpuSeconds, JSON.stringify(orphan)).toBeGreaterThanOrEqual(0.5);
  expect(alloc?.peakMemoryBytes, JSON.stringify(alloc)).toBeGreaterThanOrEqual(50 * MiB);
  expect(file?.layerBytes, JSON.stringify(file)).toBeGreaterThanOrEqual(10 * MiB);
  expect(file?.layerBytes).toBeLessThan(10 * MiB + 64 * 1024);
  expect(alloc?.layerBytes).toBe(0);
  for (const u of [burn, orphan, alloc, file]) {
    expect(u?.source).toBe(source);
    expect(u?.cpuSeconds).toBeCloseTo((u?.userSeconds ?? 0) + (u?.sysSeconds ?? 0), 2);
    // No figure claims more CPU than the step's wall time allows on this machine's cores
    // (the wall time encloses the process's whole life; 50 ms for tick-based accounting).
    expect(u?.cpuSeconds).toBeLessThanOrEqual((u?.wallSeconds ?? 0) * availableParallelism() + 0.05);
  }
  expect(step(by, 'COPY burn.sh')).toBeUndefined();
  expect(step(by, 'ENV DONE=1')).toBeUndefined();
}

describe('per-step resource report', () => {
  it('json progress carries rusage figures for each RUN step', () => {
    expectFigures(buildJson('usage:1'), 'rusage');
  });

  it('tsbuild history lists every RUN step with CPU, MEM and the bytes its layer adds', () => {
    const r = tsbuild(root, ['history', '--format', 'json', 'usage:1']);
    expect(r.status, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as { id: string; createdBy: string; size: number; emptyLayer: boolean; usage?: Usage }[];
    const row = (needle: string) => rows.find((x) => x.createdBy.includes(needle));
    expect(rows[0]?.id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(row('of=/ten')?.usage?.layerBytes).toBeGreaterThanOrEqual(10 * MiB);
    expect(row('of=/ten')?.usage?.layerBytes).toBeLessThan(10 * MiB + 64 * 1024);
    expect(row('of=/ten')?.size).toBe(row('of=/ten')?.usage?.layerBytes);
    expect(row('bs=50M')?.usage?.peakMemoryBytes).toBeGreaterThanOrEqual(50 * MiB);
    expect(row('sh /burn.sh')?.usage?.cpuSeconds).toBeGreaterThanOrEqual(0.5);
    expect(row('COPY burn.sh')?.usage).toBeUndefined();
    expect(row('busybox')?.usage).toBeUndefined();

    const table = tsbuild(root, ['history', 'usage:1']);
    expect(table.status, table.stderr).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^IMAGE +CREATED +CREATED BY +SIZE +COMMENT +CPU +MEM$/);
    expect(lines.find((l) => l.includes('of=/te'))).toMatch(/10\.\d+MB +\d+\.\d\ds +\S+$/);
    expect(lines.find((l) => l.includes('of=/dev/null'))).toMatch(/ \d+\.\d\ds +5\d\.\dMiB$/);
    const full = tsbuild(root, ['history', '--no-trunc', 'usage:1']);
    expect(full.stdout).toContain(`sh -c 'sh -c "sh /burn.sh; touch /tmp/burnt" &'; while [ ! -e /tmp/burnt ]; do sleep 0.1; done`);
  });

  it('keeps the report out of the image config', () => {
    const r = tsbuild(root, ['inspect', 'usage:1']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/cpuSeconds|peakMemory|layerBytes/);
  });

  it('a cached rebuild reports no new figures, and its image shows the run that made each step', () => {
    const by = buildJson('usage:2');
    expect([...by.values()].every((u) => u === undefined)).toBe(true);
    const a = JSON.parse(tsbuild(root, ['history', '--format', 'json', 'usage:1']).stdout) as { usage?: Usage }[];
    const b = JSON.parse(tsbuild(root, ['history', '--format', 'json', 'usage:2']).stdout) as { usage?: Usage }[];
    expect(b.map((x) => x.usage)).toEqual(a.map((x) => x.usage));
  });

  it('plain progress prints the figures after the wall time', () => {
    const r = tsbuild(root, ['build', '--no-cache', '--progress', 'plain', '-f', join(ctx, 'Containerfile'), '-t', 'usage:3', ctx], { timeout: 240_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^--> [0-9a-f]{12} \(\d+\.\d\ds; cpu \d+\.\d\ds, mem \S+, \+10\.0MiB\)$/m);
    expect(r.stderr).toMatch(/^--> no layer \(\d+\.\d\ds; cpu \d+\.\d\ds, mem 5\d\.\dMiB, \+0B\)$/m);
  });

  it("with a memory limit the figures come from the step's cgroup, which is removed after", () => {
    const by = buildJson('usage:4', ['--no-cache', '--memory', '256m']);
    expectFigures(by, 'cgroup');
    const mine = `${storeTag(root)}-`;
    for (const c of ['memory', 'cpuacct', 'cpu', 'pids']) {
      let left: string[] = [];
      try { left = readdirSync(join('/sys/fs/cgroup', c, 'tsbuild')).filter((n) => n.startsWith(mine)); } catch { /* no tsbuild dir */ }
      expect(left, c).toEqual([]);
    }
  });
});
