// A container process in tsbuild's foreground, for `run` and `exec`: the
// pty (with -t) or stdin/dev-null stdio, signal forwarding, the spawn, the
// pty relay, the wait and the closing of every fd, in that order. Both
// commands need the same sequence and the same clean-up on each failure
// path, so it lives here once and the CLI only parses flags and prints.
// Detached starts are here too: they share the stdio choice with -t.
import { openSync } from 'node:fs';
import { native } from '../native/index.js';
import { forwardSignals, relayPty, withTimeout } from './attach.js';
import { launchContainer, openLog, removeContainerFiles, waitContainer, type ExitInfo, type LaunchStdio } from './container.js';
import { writeState, type ContainerState } from './state.js';

export interface AttachMode {
  /** A pseudo-terminal (-t). */
  tty: boolean;
  /** Keep stdin attached (-i). */
  interactive: boolean;
}

/**
 * Runs one process attached to the user's terminal. `spawn` starts it on
 * the stdio it is given and returns its pid, or throws (then nothing is
 * left open and no signal handler stays installed); `wait` resolves with
 * its end. Signals tsbuild gets before the pid is known are held and
 * delivered once it is.
 */
export async function attached<T>(mode: AttachMode, spawn: (stdio: LaunchStdio) => number, wait: (pid: number) => Promise<T>): Promise<T> {
  let pty: { master: number; slave: number; slavePath: string } | undefined;
  let devnull: number | undefined;
  let stdio: LaunchStdio;
  if (mode.tty) {
    pty = native().openPty(process.stdout.columns ?? 80, process.stdout.rows ?? 24);
    stdio = { ttySlave: pty.slave, ttyPath: pty.slavePath };
  } else {
    if (!mode.interactive) devnull = openSync('/dev/null', 'r');
    stdio = { fds: [devnull ?? 0, 1, 2] };
  }
  const forwarding = forwardSignals();
  let pid: number;
  try {
    pid = spawn(stdio);
  } catch (err) {
    forwarding.stop();
    if (pty) native().closeFd(pty.master);
    throw err;
  } finally {
    // The child has its own copies; ours would keep the pty open after it exits.
    if (pty) native().closeFd(pty.slave);
    if (devnull !== undefined) native().closeFd(devnull);
  }
  forwarding.setPid(pid);
  const relay = pty ? relayPty(pty.master, mode.interactive) : undefined;
  try {
    return await wait(pid);
  } finally {
    if (relay && pty) {
      await withTimeout(relay.drained, 2000);
      relay.stop();
      native().closeFd(pty.master);
    }
    forwarding.stop();
  }
}

/**
 * `run` without -d: the container's process in the foreground. A container
 * that fails to start is removed; after its end a --rm one is removed and
 * a working container (`tsbuild from`) waits for its next command.
 */
export async function runForeground(root: string, state: ContainerState): Promise<ExitInfo> {
  const start = (stdio: LaunchStdio): number => {
    try {
      return launchContainer(root, state, stdio);
    } catch (err) {
      removeContainerFiles(root, state);
      throw err;
    }
  };
  const info = await attached(state.config, start, (pid) => waitContainer(root, state, pid));
  if (state.autoRemove) removeContainerFiles(root, state);
  else if (state.kind === 'working') {
    state.status = 'created';
    writeState(root, state);
  }
  return info;
}

/**
 * `run -d`: starts the process under its monitor with output to the
 * container's log, and returns. With -t the monitor inherits the pty
 * master and holds it, so a `-dit` shell waits on its terminal.
 */
export function startDetached(root: string, state: ContainerState): void {
  const log = openLog(root, state.id);
  const devnull = openSync('/dev/null', 'r');
  try {
    if (state.config.tty) {
      const pty = native().openPty(80, 24);
      try {
        launchContainer(root, state, { ttySlave: pty.slave, ttyPath: pty.slavePath });
      } finally {
        native().closeFd(pty.slave);
        native().closeFd(pty.master);
      }
    } else {
      launchContainer(root, state, { fds: [devnull, log, log] });
    }
  } catch (err) {
    removeContainerFiles(root, state);
    throw err;
  } finally {
    native().closeFd(log);
    native().closeFd(devnull);
  }
}
