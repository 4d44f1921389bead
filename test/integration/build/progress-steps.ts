// Reading `tsbuild build --progress plain` output back into steps, and
// small helpers the cache and robustness tests share: an image's diff_ids
// from `tsbuild inspect`, and a build that must succeed.
import { expect } from 'vitest';
import { tsbuild } from '../fixtures.js';

export interface StepOutcome {
  /** `[stage] ` prefix without brackets, or '' for a one-stage build. */
  stage: string;
  n: number;
  /** The instruction as printed (first line). */
  text: string;
  /** CACHED, a new layer (`--> <hex> (…s)`), or nothing printed (config-only steps). */
  status: 'cached' | 'built' | 'none';
  /** For a cached step from a --cache-from ref: that ref (`--> CACHED from REF`). */
  cacheFrom?: string;
  /** Remade from an entry of another SOURCE_DATE_EPOCH (`--> CACHED (retimed)`). */
  retimed?: boolean;
}

const STEP = /^(?:\[([^\]]+)\] )?STEP (\d+)\/\d+: (.*)$/;
// A step's outcome line; in a multi-stage build it names its stage, since stages run in parallel.
const OUTCOME = /^(?:\[([^\]]+)\] )?(--> .*)$/;

/** The steps of a plain-progress build log (stderr), in the order they started. */
export function parseSteps(stderr: string): StepOutcome[] {
  const steps: StepOutcome[] = [];
  for (const line of stderr.split('\n')) {
    const m = STEP.exec(line);
    if (m) {
      steps.push({ stage: m[1] ?? '', n: Number(m[2]), text: m[3] ?? '', status: 'none' });
      continue;
    }
    const o = OUTCOME.exec(line);
    if (!o) continue;
    const stage = o[1] ?? '';
    const last = steps.findLast((s) => s.stage === stage);
    if (!last || last.status !== 'none') continue;
    const outcome = o[2] as string;
    if (outcome === '--> CACHED') last.status = 'cached';
    else if (outcome === '--> CACHED (retimed)') Object.assign(last, { status: 'cached', retimed: true });
    else if (outcome.startsWith('--> CACHED from ')) {
      const from = outcome.slice('--> CACHED from '.length);
      const retimed = from.endsWith(' (retimed)');
      Object.assign(last, { status: 'cached', cacheFrom: retimed ? from.slice(0, -' (retimed)'.length) : from, ...(retimed ? { retimed } : {}) });
    }
    else if (/^--> [0-9a-f]{12} \(/.test(outcome)) last.status = 'built';
  }
  return steps;
}

/** The steps that make layers (RUN, COPY, ADD), as "KIND status" lines for readable assertions. */
export function layerSteps(steps: StepOutcome[]): string[] {
  return steps.filter((s) => /^(RUN|COPY|ADD)\b/i.test(s.text)).map((s) => `${s.text} => ${s.status}`);
}

export function diffIds(root: string, image: string): string[] {
  const r = tsbuild(root, ['inspect', image]);
  expect(r.status, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { config: { rootfs: { diff_ids: string[] } } }).config.rootfs.diff_ids;
}

/** `tsbuild build … --progress plain`, which must succeed; returns its steps. */
export function buildOk(root: string, args: string[], timeout = 180_000): StepOutcome[] {
  const r = tsbuild(root, ['build', '--progress', 'plain', ...args], { timeout });
  expect(r.status, `tsbuild build ${args.join(' ')}:\n${r.stderr}`).toBe(0);
  return parseSteps(r.stderr);
}
