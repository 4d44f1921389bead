// Build progress on stderr. Plain mode (CI, pipes) prints `STEP n/m: …`
// lines, the RUN output as it comes, and `--> CACHED` markers; json mode
// prints one event per line; tty mode is plain with step timings kept on
// one line per step. RUN output goes straight to an fd, so the container
// writes to it without tsbuild copying bytes in plain mode.
import { createReadStream } from 'node:fs';
import { native } from '../../native/index.js';

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
  cached(): void;
  done(detail: { layer?: string; timings?: Record<string, number> }): void;
}

export interface Progress {
  /** The fd RUN steps write their output to. */
  readonly outputFd: number;
  step(info: StepInfo): StepTracker;
  message(text: string): void;
  result(imageId: string, tags: string[]): void;
  close(): Promise<void>;
}

function oneLine(text: string): string {
  const first = text.split('\n')[0] ?? '';
  return text.includes('\n') ? `${first} …` : first;
}

export function makeProgress(mode: ProgressMode, multiStage: boolean): Progress {
  const write = (s: string) => process.stderr.write(s);
  if (mode === 'json') return jsonProgress();
  return {
    outputFd: 2,
    step(info) {
      const prefix = multiStage ? `[${info.stage}] ` : '';
      write(`${prefix}STEP ${info.n}/${info.total}: ${oneLine(info.text)}\n`);
      const start = performance.now();
      return {
        cached: () => write('--> CACHED\n'),
        done: ({ layer }) => {
          if (mode === 'tty' || layer) write(`--> ${layer ? layer.slice(7, 19) : 'done'} (${((performance.now() - start) / 1000).toFixed(2)}s)\n`);
        },
      };
    },
    message: (text) => write(`${text}\n`),
    result: (id, tags) => write(`${tags.length > 0 ? `Successfully tagged ${tags.join(', ')}\n` : ''}${id}\n`),
    close: async () => {},
  };
}

function jsonProgress(): Progress {
  const emit = (ev: object) => process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...ev })}\n`);
  const [readFd, writeFd] = native().makePipe() as [number, number];
  let current: StepInfo | undefined;
  const reader = createReadStream('', { fd: readFd, encoding: 'utf8' });
  const drained = new Promise<void>((resolve) => { reader.on('close', resolve); reader.on('error', () => resolve()); });
  reader.on('data', (data) => emit({ type: 'output', stage: current?.stage, step: current?.n, data }));
  return {
    outputFd: writeFd,
    step(info) {
      current = info;
      emit({ type: 'step', ...info });
      const start = performance.now();
      return {
        cached: () => emit({ type: 'cached', stage: info.stage, step: info.n }),
        done: ({ layer, timings }) => emit({ type: 'done', stage: info.stage, step: info.n, layer, durationMs: Math.round(performance.now() - start), timings }),
      };
    },
    message: (text) => emit({ type: 'message', text }),
    result: (id, tags) => emit({ type: 'image', id, tags }),
    close: async () => {
      native().closeFd(writeFd);
      await drained;
    },
  };
}
