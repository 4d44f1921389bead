// Stages build in parallel up to the step that needs another stage, as in
// BuildKit: a runtime stage's own RUN steps do not wait for the builder
// stage it copies from. Each RUN's output is told as its own step's in
// json progress; plain progress names the stage on every outcome line;
// the first stage to fail stops the others (a running RUN is killed) and
// is the error reported. No timing bound but the kill: a 60 s sleep must
// not run out.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { busyboxStore, tsbuild } from '../fixtures.js';
import { parseSteps } from './progress-steps.js';

let root: string;
let work: string;
let cleanup: () => void;

beforeAll(() => {
  ({ root, work, cleanup } = busyboxStore('parallel-stages'));
});
afterAll(() => cleanup?.());

interface Event { type: string; stage?: string; n?: number; step?: number; text?: string; data?: string }

function context(name: string, containerfile: string): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'Containerfile'), containerfile);
  return dir;
}

const TWO_STAGES = `FROM busybox:stable AS slow
RUN echo slow-one; sleep 1; echo slow-two; sleep 1; echo slow > /slow
FROM busybox:stable
RUN sleep 0.5; echo rt-one; sleep 1; echo rt-two > /rt; cat /rt
COPY --from=slow /slow /slow
RUN test -s /slow && test -s /rt
`;

it("runs a stage's own steps while the stage it copies from still builds, each RUN's output its own", () => {
  const dir = context('two', TWO_STAGES);
  const r = tsbuild(root, ['build', '--progress', 'json', '--no-cache', '-t', 'par:1', dir], { timeout: 120_000 });
  expect(r.status, r.stderr).toBe(0);
  const events = r.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Event);
  const at = (pred: (e: Event) => boolean): number => {
    const i = events.findIndex(pred);
    expect(i, JSON.stringify(events.map((e) => [e.type, e.stage, e.n ?? e.step]))).toBeGreaterThanOrEqual(0);
    return i;
  };
  // The runtime stage (stage "1") started its RUN before the slow stage's RUN was done.
  const rtRunStarts = at((e) => e.type === 'step' && e.stage === '1' && e.n === 2);
  const slowRunDone = at((e) => e.type === 'done' && e.stage === 'slow' && e.step === 2);
  expect(rtRunStarts).toBeLessThan(slowRunDone);
  // Output went to the step that wrote it, though both ran at once.
  const outputs = events.filter((e) => e.type === 'output');
  const whose = (marker: string) => [...new Set(outputs.filter((e) => e.data?.includes(marker)).map((e) => `${e.stage}/${e.step}`))];
  expect(whose('slow-one')).toEqual(['slow/2']);
  expect(whose('slow-two')).toEqual(['slow/2']);
  expect(whose('rt-one')).toEqual(['1/2']);
  expect(whose('rt-two')).toEqual(['1/2']);
  // And the image has both stages' files.
  const run = tsbuild(root, ['run', '--rm', 'par:1', 'cat', '/slow', '/rt']);
  expect(run.stdout).toBe('slow\nrt-two\n');
});

it('names the stage on every outcome line of plain progress', () => {
  const dir = context('two', TWO_STAGES);
  const r = tsbuild(root, ['build', '--progress', 'plain', '--no-cache', '-t', 'par:2', dir], { timeout: 120_000 });
  expect(r.status, r.stderr).toBe(0);
  const outcomes = r.stderr.split('\n').filter((l) => l.includes('--> '));
  expect(outcomes.length).toBeGreaterThanOrEqual(4);
  for (const line of outcomes) expect(line).toMatch(/^\[(slow|1)\] --> ([0-9a-f]{12}|no layer) \(/);
  const steps = parseSteps(r.stderr).filter((s) => s.text.startsWith('RUN') || s.text.startsWith('COPY'));
  expect(steps.map((s) => `${s.stage} ${s.status}`).sort()).toEqual(['1 built', '1 built', '1 none', 'slow built']);
});

it('stops the other stages when one fails, kills their running RUN, and reports the first failure', () => {
  const dir = context('fails', `FROM busybox:stable AS broken
RUN sleep 1; exit 3
FROM busybox:stable
RUN sleep 60 # tsbuild-parallel-stages-sleeper
COPY --from=broken /x /x
`);
  const started = Date.now();
  const r = tsbuild(root, ['build', '--progress', 'plain', '-t', 'par:3', dir], { timeout: 120_000 });
  expect(r.status).not.toBe(0);
  expect(r.stderr).toContain('returned a non-zero code: 3');
  expect(r.stderr).not.toContain('signal 9');
  // The last line is the one error, with the failing step's line.
  expect(r.stderr.trim().split('\n').at(-1)).toMatch(/Containerfile:2/);
  expect(Date.now() - started).toBeLessThan(45_000);
  // The killed step's processes are gone.
  let left = '';
  try {
    left = execFileSync('pgrep', ['-af', 'tsbuild-parallel-stages-sleeper'], { encoding: 'utf8' });
  } catch { /* pgrep exits 1 when nothing matches */ }
  expect(left).toBe('');
});
