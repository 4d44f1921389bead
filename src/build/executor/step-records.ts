// What each step of a build did, for --metadata-file: cached or run, from
// which cache, and how long it took. Kept by wrapping the progress sink the
// stages already report to, so the stage code has one place to say it.
import type { Progress } from './progress.js';

// Not the global `performance`: its first use loads node:perf_hooks (~1 ms of a cached build).
const now = (): number => Number(process.hrtime.bigint()) / 1e6;

export interface StepRecord {
  stage: string;
  /** 1-based within the stage, as progress numbers it (FROM is 1). */
  step: number;
  instruction: string;
  line: number;
  cached: boolean;
  /** Which cache a cached step came from: `local` (this store's step cache) or the --cache-from ref. */
  cache?: string;
  /** Remade from an entry of another SOURCE_DATE_EPOCH instead of running (retime.ts). */
  retimed?: boolean;
  /** The layer the step made, if it ran and made one. */
  layer?: string;
  durationMs: number;
}

/** `inner`, recording every step into `records` (in the order steps start). */
export function recordingProgress(inner: Progress, records: StepRecord[]): Progress {
  return {
    step(info) {
      const tracker = inner.step(info);
      const start = now();
      const record: StepRecord = { stage: info.stage, step: info.n, instruction: info.text, line: info.line, cached: false, durationMs: 0 };
      records.push(record);
      const took = () => Math.round(now() - start);
      return {
        output: () => tracker.output(),
        cached: (from, how) => {
          Object.assign(record, { cached: true, cache: from ?? 'local', durationMs: took(), ...(how?.retimed ? { retimed: true } : {}) });
          tracker.cached(from, how);
        },
        done: (detail) => {
          Object.assign(record, { durationMs: took(), ...(detail.layer ? { layer: detail.layer } : {}) });
          tracker.done(detail);
        },
      };
    },
    message: (text) => inner.message(text),
    transfer: (direction, what) => inner.transfer(direction, what),
    result: (id, tags) => inner.result(id, tags),
    close: () => inner.close(),
  };
}
