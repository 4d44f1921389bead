// Store locks: a readers-writer lock per name, held both within this process
// (a promise queue) and across processes (flock on ROOT/locks/<name>.lock via
// the native module). flock alone is not enough inside one process: every
// waiter would park a libuv worker thread, and four of them would starve the
// fs calls the holder needs to finish. So in-process waiters queue here, and
// only the first holder of a mode touches flock, on a worker thread, and only
// when a non-blocking attempt found another process in the way.
//
// Lock files are never deleted (deleting a flocked file lets a second process
// lock a new inode of the same name); per-layer locks are therefore striped
// over 256 names.
import { join } from 'node:path';
import { fromNative, native, nativeCall } from '../native/index.js';

export type Release = () => void;

interface Waiter {
  exclusive: boolean;
  grant: () => void;
}

interface LockState {
  mode: 'none' | 'shared' | 'exclusive';
  holders: number;
  /** Resolves once the flock for the current mode is held (first holder takes it). */
  ready: Promise<void> | undefined;
  /** The flock's fd once taken. */
  fd: number | undefined;
  queue: Waiter[];
}

export class LockManager {
  private readonly states = new Map<string, LockState>();

  constructor(private readonly dir: string) {}

  /** Hold `name` shared (many holders) or exclusive (one), in every process on this store. */
  async acquire(name: string, exclusive: boolean): Promise<Release> {
    const st = this.state(name);
    const compatible = st.mode === 'none' || (!exclusive && st.mode === 'shared' && st.queue.length === 0);
    if (!compatible) await new Promise<void>((grant) => st.queue.push({ exclusive, grant }));
    else this.enter(name, st, exclusive);
    try {
      await st.ready;
    } catch (err) {
      this.leave(name, st);
      throw err;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.leave(name, st);
    };
  }

  private state(name: string): LockState {
    let st = this.states.get(name);
    if (!st) {
      st = { mode: 'none', holders: 0, ready: undefined, fd: undefined, queue: [] };
      this.states.set(name, st);
    }
    return st;
  }

  private enter(name: string, st: LockState, exclusive: boolean): void {
    if (st.holders === 0) {
      st.mode = exclusive ? 'exclusive' : 'shared';
      const path = join(this.dir, `${name}.lock`);
      const s = st;
      st.ready = (async () => {
        let fd = nativeCall(`lock ${path}`, () => native().tryLockFile(path, exclusive));
        if (fd < 0) fd = await native().lockFile(path, exclusive).catch((err: unknown) => { throw fromNative(`lock ${path}`, err); });
        s.fd = fd;
      })();
      // A failed lock is reported to the waiter through `ready`; keep it from
      // being an unhandled rejection in the meantime.
      st.ready.catch(() => undefined);
    }
    st.holders++;
  }

  private leave(name: string, st: LockState): void {
    st.holders--;
    if (st.holders > 0) return;
    // Every holder awaited `ready` before it could release, so the fd is set
    // (or the lock failed and there is nothing to release).
    if (st.fd !== undefined) native().unlockFile(st.fd);
    st.fd = undefined;
    st.mode = 'none';
    st.ready = undefined;
    // Admit the next waiter, and with a shared one every shared waiter behind it.
    const next = st.queue.shift();
    if (!next) {
      this.states.delete(name);
      return;
    }
    this.enter(name, st, next.exclusive);
    next.grant();
    while (!next.exclusive && st.queue[0] && !st.queue[0].exclusive) {
      const w = st.queue.shift() as Waiter;
      this.enter(name, st, false);
      w.grant();
    }
  }
}
