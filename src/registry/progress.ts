// Progress of blob transfers on stderr.
//
// Owns: the two renderings the contract asks for — live per-blob bars
// redrawn with ANSI escapes when stderr is a terminal, and one plain line per
// finished blob (`Copying blob sha256:abcd1234 done`) when it is not, so logs
// and CI output stay readable. Pull and push only report events.

export interface Progress {
  /** A blob transfer begins; `total` in bytes. */
  start(digest: string, total: number): void;
  /** `bytes` more arrived (or were sent). */
  advance(digest: string, bytes: number): void;
  /** The transfer ended: `done`, `skipped: already exists`, `mounted`, `failed`… */
  finish(digest: string, status: string): void;
  /** A line of its own (`Writing manifest`), printed above the bars. */
  note(line: string): void;
  /** Final redraw; stop timers. */
  close(): void;
}

export const silentProgress: Progress = { start() {}, advance() {}, finish() {}, note() {}, close() {} };

const short = (digest: string): string => digest.replace(/^(sha256:[0-9a-f]{12}).*$/, '$1');

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return `${u === 0 ? v : v.toFixed(1)}${units[u]}`;
}

/** Plain lines: one per finished blob. */
export function plainProgress(write: (s: string) => void, verb: string): Progress {
  return {
    start() {},
    advance() {},
    finish(digest, status) { write(`${verb} blob ${short(digest)} ${status}\n`); },
    note(line) { write(`${line}\n`); },
    close() {},
  };
}

interface Bar { digest: string; total: number; done: number; status?: string }

/** Live bars, redrawn at most every 100ms by moving the cursor back over them. */
export function ttyProgress(write: (s: string) => void, verb: string, columns = 80): Progress {
  const bars: Bar[] = [];
  let drawn = 0;
  let timer: NodeJS.Timeout | undefined;
  const line = (b: Bar): string => {
    const head = `${verb} blob ${short(b.digest)}`;
    if (b.status) return `${head} ${b.status}`;
    const width = Math.max(10, Math.min(30, columns - head.length - 30));
    const frac = b.total > 0 ? Math.min(1, b.done / b.total) : 0;
    const fill = Math.round(frac * width);
    const bar = '='.repeat(Math.max(0, fill - 1)) + (fill > 0 ? '>' : '') + ' '.repeat(width - fill);
    return `${head} [${bar}] ${formatBytes(b.done)} / ${formatBytes(b.total)}`;
  };
  const redraw = (): void => {
    timer = undefined;
    let out = drawn > 0 ? `\x1b[${drawn}A` : '';
    for (const b of bars) out += `\r\x1b[2K${line(b).slice(0, columns - 1)}\n`;
    drawn = bars.length;
    write(out);
  };
  const schedule = (): void => { timer ??= setTimeout(redraw, 100); };
  return {
    start(digest, total) { bars.push({ digest, total, done: 0 }); schedule(); },
    advance(digest, bytes) {
      const b = bars.find((x) => x.digest === digest && !x.status);
      if (b) { b.done += bytes; schedule(); }
    },
    finish(digest, status) {
      const b = bars.find((x) => x.digest === digest && !x.status);
      if (b) b.status = status; else bars.push({ digest, total: 0, done: 0, status });
      schedule();
    },
    note(text) {
      // Notes go above the bars: redraw the bars below them.
      if (timer) clearTimeout(timer);
      let out = drawn > 0 ? `\x1b[${drawn}A` : '';
      out += `\r\x1b[2K${text}\n`;
      drawn = 0;
      write(out);
      redraw();
    },
    close() {
      if (timer) clearTimeout(timer);
      redraw();
    },
  };
}

/** Bars in a terminal at info level or more, plain lines otherwise, nothing when quiet. */
export function makeProgress(verb: string, opts: { quiet?: boolean; stream?: NodeJS.WriteStream } = {}): Progress {
  if (opts.quiet) return silentProgress;
  const stream = opts.stream ?? process.stderr;
  const write = (s: string): void => { stream.write(s); };
  return stream.isTTY ? ttyProgress(write, verb, stream.columns || 80) : plainProgress(write, verb);
}
