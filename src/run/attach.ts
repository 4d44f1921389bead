// Connecting the user's terminal to a foreground container: signal
// forwarding (so Ctrl-C and `kill` of tsbuild reach PID 1) and, with -t,
// a pty relay in raw mode that passes window size changes on.
import { createReadStream, writeSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { native } from '../native/index.js';

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/**
 * Forwards the signals tsbuild receives to the container's PID 1. Install
 * it before the container starts (with `setPid` once it has), so that a
 * signal arriving in between is held and delivered, not lost or fatal.
 */
export function forwardSignals(): { setPid(pid: number): void; stop(): void } {
  let target: number | undefined;
  const pending: number[] = [];
  const handlers = FORWARDED.map((sig) => {
    const h = () => {
      const n = osConstants.signals[sig];
      if (target === undefined) pending.push(n);
      else native().signalPid(target, n);
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  return {
    setPid(pid) {
      target = pid;
      for (const n of pending.splice(0)) native().signalPid(pid, n);
    },
    stop: () => handlers.forEach(([sig, h]) => process.off(sig, h)),
  };
}

export interface PtyRelay {
  /** Resolves when the container side of the pty has closed and all output is written. */
  drained: Promise<void>;
  /** Restores the terminal and stops relaying input. */
  stop(): void;
}

/**
 * Relays the pty master to stdout, and stdin to the master when
 * `interactive`. The host terminal is put in raw mode so that keys such as
 * Ctrl-C go to the container's terminal instead of signalling tsbuild.
 */
export function relayPty(master: number, interactive: boolean): PtyRelay {
  const stdin = process.stdin;
  const raw = interactive && stdin.isTTY;
  if (raw) stdin.setRawMode(true);
  const onData = (chunk: Buffer) => {
    try { writeSync(master, chunk); } catch { /* the container closed its terminal */ }
  };
  if (interactive) {
    stdin.on('data', onData);
    stdin.resume();
  }
  const onResize = () => {
    const { columns, rows } = process.stdout;
    if (columns && rows) native().resizePty(master, columns, rows);
  };
  process.stdout.on('resize', onResize);
  // A blocking read on the master in the thread pool; EIO means every slave fd closed.
  const out = createReadStream('', { fd: master, autoClose: false, highWaterMark: 64 * 1024 });
  const drained = new Promise<void>((resolve) => {
    out.on('data', (c) => process.stdout.write(c));
    out.on('error', () => resolve());
    out.on('end', () => resolve());
  });
  let stopped = false;
  return {
    drained,
    stop() {
      if (stopped) return;
      stopped = true;
      process.stdout.off('resize', onResize);
      if (interactive) {
        stdin.off('data', onData);
        stdin.pause();
      }
      if (raw) stdin.setRawMode(false);
      out.destroy();
    },
  };
}

/** Waits for `p` or `ms`, whichever comes first. */
export function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  return Promise.race([p, new Promise<void>((r) => setTimeout(r, ms).unref())]);
}
