// Build progress on stderr. Plain mode (CI, pipes) prints `STEP n/m: …`
// lines, the RUN output as it comes, and `--> CACHED` markers; json mode
// prints one event per line; tty mode keeps a live step list with timings.
// In plain mode RUN output goes straight to fd 2, so the container writes
// to it without tsbuild copying bytes; the other modes read it from a pipe.
import { createReadStream } from 'node:fs';
import { native } from '../../native/index.js';
import { usageSummary, type StepUsage } from './step-usage.js';
import type { Progress as TransferProgress } from '../../registry/progress.js';
import { transferProgress, type Direction } from './transfer-progress.js';

export type ProgressMode = 'plain' | 'tty' | 'json';

export interface StepInfo {
  stage: string;
  /** 1-based within the stage. */
  n: number;
  total: number;
  text: string;
  line: number;
}

export interface StepTracker {
  /**
   * The step's result came from a cache: this store's (`from` absent) or a
   * --cache-from ref; `retimed` when it was remade from an entry built under
   * another SOURCE_DATE_EPOCH (retime.ts) instead of running.
   */
  cached(from?: string, how?: { retimed?: boolean }): void;
  /** `usage`: a RUN step's resource report (step-usage.ts). */
  done(detail: { layer?: string; timings?: Record<string, number>; usage?: StepUsage }): void;
}

export interface Progress {
  /** The fd RUN steps write their output to. */
  readonly outputFd: number;
  step(info: StepInfo): StepTracker;
  message(text: string): void;
  /** Progress of blob transfers for `what` (an image or a cache ref), in this mode. */
  transfer(direction: Direction, what: string): TransferProgress;
  result(imageId: string, tags: string[]): void;
  close(): Promise<void>;
}

function oneLine(text: string): string {
  const first = text.split('\n')[0] ?? '';
  return text.includes('\n') ? `${first} …` : first;
}

export function makeProgress(mode: ProgressMode, multiStage: boolean): Progress {
  if (mode === 'json') return jsonProgress();
  if (mode === 'tty') return ttyProgress(multiStage);
  const write = (s: string) => process.stderr.write(s);
  return {
    outputFd: 2,
    step(info) {
      const prefix = multiStage ? `[${info.stage}] ` : '';
      write(`${prefix}STEP ${info.n}/${info.total}: ${oneLine(info.text)}\n`);
      const start = performance.now();
      return {
        cached: (from, how) => write(`--> CACHED${from ? ` from ${from}` : ''}${how?.retimed ? ' (retimed)' : ''}\n`),
        done: ({ layer, usage }) => {
          const took = `${((performance.now() - start) / 1000).toFixed(2)}s${usage ? `; ${usageSummary(usage)}` : ''}`;
          if (layer) write(`--> ${layer.slice(7, 19)} (${took})\n`);
          else if (usage) write(`--> no layer (${took})\n`);
        },
      };
    },
    message: (text) => write(`${text}\n`),
    transfer: (direction, what) => transferProgress('plain', direction, what, write),
    // The ID goes to stdout only: a CI log of both streams shows it once.
    result: (_id, tags) => { if (tags.length > 0) write(`Successfully tagged ${tags.join(', ')}\n`); },
    close: async () => {},
  };
}

/** Reads RUN output from a pipe the containers write to. */
function outputPipe(onData: (data: string) => void): { fd: number; close(): Promise<void> } {
  const [readFd, writeFd] = native().makePipe() as [number, number];
  const reader = createReadStream('', { fd: readFd, encoding: 'utf8' });
  const drained = new Promise<void>((resolve) => { reader.on('close', resolve); reader.on('error', () => resolve()); });
  reader.on('data', (d) => onData(d as string));
  return {
    fd: writeFd,
    close: async () => {
      native().closeFd(writeFd);
      await drained;
    },
  };
}

/**
 * A live step list: each step is one line that is rewritten in place with
 * its outcome and time; the running step's output appears (dimmed) under
 * it, and once output has appeared the step's result gets its own line.
 */
function ttyProgress(multiStage: boolean): Progress {
  const write = (s: string) => process.stderr.write(s);
  let clean = true; // nothing printed since the current step's line
  const pipe = outputPipe((data) => {
    clean = false;
    write(`\x1b[2m${data}\x1b[0m`);
  });
  return {
    outputFd: pipe.fd,
    step(info) {
      const label = `${multiStage ? `[${info.stage}] ` : ''}STEP ${info.n}/${info.total}: ${oneLine(info.text)}`;
      write(`\x1b[36m=>\x1b[0m ${label}\n`);
      clean = true;
      const start = performance.now();
      const finish = (what: string) => {
        const line = `\x1b[32m✔\x1b[0m ${label} \x1b[2m${what}\x1b[0m\n`;
        write(clean ? `\x1b[1A\x1b[2K${line}` : line);
        clean = true;
      };
      return {
        cached: (from, how) => finish(`${from ? `CACHED from ${from}` : 'CACHED'}${how?.retimed ? ' (retimed)' : ''}`),
        done: ({ usage }) => finish(`${((performance.now() - start) / 1000).toFixed(2)}s${usage ? ` · ${usageSummary(usage)}` : ''}`),
      };
    },
    message: (text) => { clean = false; write(`${text}\n`); },
    transfer: (direction, what) => { clean = false; return transferProgress('tty', direction, what); },
    // The ID itself goes to stdout, which is this terminal too: don't print it twice.
    result: (_id, tags) => { if (tags.length > 0) write(`Successfully tagged ${tags.join(', ')}\n`); },
    close: () => pipe.close(),
  };
}

function jsonProgress(): Progress {
  const emit = (ev: object) => process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...ev })}\n`);
  let current: StepInfo | undefined;
  const pipe = outputPipe((data) => emit({ type: 'output', stage: current?.stage, step: current?.n, data }));
  return {
    outputFd: pipe.fd,
    step(info) {
      current = info;
      emit({ type: 'step', ...info });
      const start = performance.now();
      return {
        cached: (from, how) => emit({ type: 'cached', stage: info.stage, step: info.n, cache: from ?? 'local', ...(how?.retimed ? { retimed: true } : {}) }),
        done: ({ layer, timings, usage }) => emit({ type: 'done', stage: info.stage, step: info.n, layer, durationMs: Math.round(performance.now() - start), timings, usage }),
      };
    },
    message: (text) => emit({ type: 'message', text }),
    transfer: (direction, what) => transferProgress('json', direction, what),
    result: (id, tags) => emit({ type: 'image', id, tags }),
    close: () => pipe.close(),
  };
}
