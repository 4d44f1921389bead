// Build progress on stderr. Plain mode (CI, pipes) prints `STEP n/m: …`
// lines, the RUN output as it comes, and `--> CACHED` markers; json mode
// prints one event per line; tty mode keeps a live step list with timings.
// In plain mode RUN output goes straight to fd 2, so the container writes
// to it without tsbuild copying bytes; the other modes read it from a pipe,
// one per RUN step that runs beside another (stages build in parallel), so
// that each chunk is told as its own step's.
import { createRequire } from 'node:module';
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

/** Where one RUN step's processes write; close() once they are gone (the rest of the output is then read). */
export interface StepOutput {
  readonly fd: number;
  close(): Promise<void>;
}

export interface StepTracker {
  /** The fd a RUN step's container writes its output to. */
  output(): StepOutput;
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
  const stderr: StepOutput = { fd: 2, close: async () => {} };
  return {
    step(info) {
      // Stages run in parallel: each line says whose it is.
      const prefix = multiStage ? `[${info.stage}] ` : '';
      write(`${prefix}STEP ${info.n}/${info.total}: ${oneLine(info.text)}\n`);
      const start = performance.now();
      return {
        output: () => stderr,
        cached: (from, how) => write(`${prefix}--> CACHED${from ? ` from ${from}` : ''}${how?.retimed ? ' (retimed)' : ''}\n`),
        done: ({ layer, usage }) => {
          const took = `${((performance.now() - start) / 1000).toFixed(2)}s${usage ? `; ${usageSummary(usage)}` : ''}`;
          if (layer) write(`${prefix}--> ${layer.slice(7, 19)} (${took})\n`);
          else if (usage) write(`${prefix}--> no layer (${took})\n`);
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

/**
 * Reads RUN output from a pipe the containers write to. The read end is a
 * libuv pipe handle (epoll), not a file stream: a file stream's read blocks
 * a thread-pool thread for the whole build, and an exit while it waits
 * (stdout closed under `tsbuild build --progress json | head`) hung in
 * libuv's thread-pool join, since this process still holds the write end.
 */
function outputPipe(onData: (data: string) => void): StepOutput {
  const [readFd, writeFd] = native().makePipe() as [number, number];
  // Loaded here, not at the top: node:net is ~5 ms of every command's start, and a cached build makes no pipe.
  const { Socket } = createRequire(import.meta.url)('node:net') as typeof import('node:net');
  const reader = new Socket({ fd: readFd, readable: true, writable: false });
  reader.setEncoding('utf8');
  const drained = new Promise<void>((resolve) => { reader.on('close', resolve); reader.on('error', () => resolve()); });
  reader.on('data', (d: string | Buffer) => onData(String(d)));
  return {
    fd: writeFd,
    close: async () => {
      native().closeFd(writeFd);
      await drained;
    },
  };
}

/**
 * RUN output pipes for one build: a step that runs alone writes to one pipe
 * shared by the whole build (no pipe set-up per step; made on first use, so
 * a cached build makes none); a step that starts while another holds it
 * gets a pipe of its own, closed and drained when it ends.
 */
function outputPipes(onData: (step: StepInfo, data: string) => void): { open(step: StepInfo): StepOutput; close(): Promise<void> } {
  let shared: StepOutput | undefined;
  let owner: StepInfo | undefined;
  // Bytes still in the shared pipe when its step ended are that step's.
  let last: StepInfo | undefined;
  return {
    open(step) {
      if (owner !== undefined) return outputPipe((d) => onData(step, d));
      owner = step;
      last = step;
      shared ??= outputPipe((d) => { if (last) onData(last, d); });
      return { fd: shared.fd, close: async () => { if (owner === step) owner = undefined; } };
    },
    close: async () => { await shared?.close(); },
  };
}

/**
 * A live step list: each step is one line that is rewritten in place with
 * its outcome and time; the running step's output appears (dimmed) under
 * it, and once output has appeared the step's result gets its own line.
 */
function ttyProgress(multiStage: boolean): Progress {
  const write = (s: string) => process.stderr.write(s);
  // The step whose line is the last one printed: only its line may be rewritten in place.
  let lastLine: StepInfo | undefined;
  const pipes = outputPipes((_step, data) => {
    lastLine = undefined;
    write(`\x1b[2m${data}\x1b[0m`);
  });
  return {
    step(info) {
      const label = `${multiStage ? `[${info.stage}] ` : ''}STEP ${info.n}/${info.total}: ${oneLine(info.text)}`;
      write(`\x1b[36m=>\x1b[0m ${label}\n`);
      lastLine = info;
      const start = performance.now();
      const finish = (what: string) => {
        const line = `\x1b[32m✔\x1b[0m ${label} \x1b[2m${what}\x1b[0m\n`;
        write(lastLine === info ? `\x1b[1A\x1b[2K${line}` : line);
        lastLine = undefined;
      };
      return {
        output: () => pipes.open(info),
        cached: (from, how) => finish(`${from ? `CACHED from ${from}` : 'CACHED'}${how?.retimed ? ' (retimed)' : ''}`),
        done: ({ usage }) => finish(`${((performance.now() - start) / 1000).toFixed(2)}s${usage ? ` · ${usageSummary(usage)}` : ''}`),
      };
    },
    message: (text) => { lastLine = undefined; write(`${text}\n`); },
    transfer: (direction, what) => { lastLine = undefined; return transferProgress('tty', direction, what); },
    // The ID itself goes to stdout, which is this terminal too: don't print it twice.
    result: (_id, tags) => { if (tags.length > 0) write(`Successfully tagged ${tags.join(', ')}\n`); },
    close: () => pipes.close(),
  };
}

function jsonProgress(): Progress {
  const emit = (ev: object) => process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...ev })}\n`);
  const pipes = outputPipes((step, data) => emit({ type: 'output', stage: step.stage, step: step.n, data }));
  return {
    step(info) {
      emit({ type: 'step', ...info });
      const start = performance.now();
      return {
        output: () => pipes.open(info),
        cached: (from, how) => emit({ type: 'cached', stage: info.stage, step: info.n, cache: from ?? 'local', ...(how?.retimed ? { retimed: true } : {}) }),
        done: ({ layer, timings, usage }) => emit({ type: 'done', stage: info.stage, step: info.n, layer, durationMs: Math.round(performance.now() - start), timings, usage }),
      };
    },
    message: (text) => emit({ type: 'message', text }),
    transfer: (direction, what) => transferProgress('json', direction, what),
    result: (id, tags) => emit({ type: 'image', id, tags }),
    close: () => pipes.close(),
  };
}
