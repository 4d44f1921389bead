// Per-step resource records: ROOT/step-usage/<key>.json, one small JSON file
// per RUN step that ran here (CPU, peak memory, layer bytes, wall time).
// They live beside the image, never in its config: the image digest must
// not depend on timing. A step's key is a hash of what identifies it in
// the image itself (its history index and entry, and the diff_ids up to
// it), so a cached step, and every image built FROM one, finds the record
// of the run that made it. Files are written atomically; a missing or
// unreadable record just means "not measured here". Like the step cache,
// records are not swept by prune (a few hundred bytes each).
import { sha256Hex } from '../sha256.js';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HistoryEntry, ImageConfig } from '../image/oci.js';

/** What one RUN step used. Seconds and bytes; JSON-safe. */
export interface StepUsage {
  /** user + sys, over the step's processes. */
  cpuSeconds: number;
  userSeconds: number;
  sysSeconds: number;
  /** Peak memory in bytes (see source). */
  peakMemoryBytes?: number;
  /** Instead of peakMemoryBytes when rusage cannot tell the step's peak from the launcher's fork: at most this. */
  peakMemoryAtMostBytes?: number;
  /** `cgroup`: the step's cgroup (exact, combined); `rusage`: wait4 (the largest single process). */
  source: 'cgroup' | 'rusage';
  /** Uncompressed bytes of the layer the step added (0: no layer). */
  layerBytes: number;
  /** From the container's start to its exit. */
  wallSeconds: number;
}

/** The key of history entry `index` of `config`: the entry and the diff_ids of the layers up to it. */
export function stepKey(config: Pick<ImageConfig, 'history' | 'rootfs'>, index: number): string {
  const history = config.history ?? [];
  const entry: HistoryEntry | undefined = history[index];
  const layersSoFar = history.slice(0, index + 1).filter((h) => !h.empty_layer).length;
  const diffIds = (config.rootfs?.diff_ids ?? []).slice(0, layersSoFar);
  return sha256Hex(JSON.stringify([index, entry?.created ?? null, entry?.created_by ?? null, entry?.empty_layer === true, diffIds]));
}

function dir(root: string): string {
  return join(root, 'step-usage');
}

export function writeStepUsage(root: string, key: string, usage: StepUsage): void {
  const d = dir(root);
  mkdirSync(d, { recursive: true });
  const tmp = join(d, `.${key}.${process.pid}.tmp`);
  writeFileSync(tmp, JSON.stringify(usage));
  renameSync(tmp, join(d, `${key}.json`));
}

export function readStepUsage(root: string, key: string): StepUsage | undefined {
  try {
    const u = JSON.parse(readFileSync(join(dir(root), `${key}.json`), 'utf8')) as StepUsage;
    return typeof u.cpuSeconds === 'number' ? u : undefined;
  } catch {
    return undefined;
  }
}

/** The records of every history entry of an image, index-aligned (undefined: none). */
export function imageStepUsage(root: string, config: Pick<ImageConfig, 'history' | 'rootfs'>): (StepUsage | undefined)[] {
  return (config.history ?? []).map((_, i) => readStepUsage(root, stepKey(config, i)));
}
