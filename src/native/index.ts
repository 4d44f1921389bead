// The only importer of the napi binding. It loads the .node file directly
// (the generated loader probes the platform at start-up, which costs time on
// every CLI call) and hands out only wrapped entry points: each turns a
// native failure into a NativeError, a TsbuildError whose code is the
// crate's (see ./errors.ts), so no bare native error reaches a caller.
import { createRequire } from 'node:module';
import { ExitCode, TsbuildError } from '../errors.js';
import { readNativeError, type NativeErrorCode, type NativeFailure } from './errors.js';
import type * as Binding from '../../crates/native/binding.js';

export type { NativeErrorCode } from './errors.js';
export type * from '../../crates/native/binding.js';

const require = createRequire(import.meta.url);

/** The binding's entry points and classes, each wrapped to throw NativeErrors. */
export type NativeApi = typeof Binding;

/** A native failure: the crate's stable code, and the errno's name when the kernel refused. */
export class NativeError extends TsbuildError {
  declare readonly code: NativeErrorCode;
  readonly errno: string | undefined;

  constructor(f: NativeFailure, opts: { exitCode?: number; cause?: unknown } = {}) {
    super(f.code, f.message, { exitCode: opts.exitCode ?? ExitCode.internal, cause: opts.cause });
    this.errno = f.errno;
  }
}

/** Exit code 125 as for any internal failure the CLI did not catch (what a bare native error gave). */
function toNativeError(err: unknown): unknown {
  if (err instanceof TsbuildError) return err;
  return new NativeError(readNativeError(err), { cause: err });
}

/** Wraps a binding function: a throw or a rejection becomes a NativeError. */
function guard<A extends unknown[], R>(f: (...args: A) => R): (...args: A) => R {
  return (...args: A): R => {
    let r: R;
    try {
      r = f(...args);
    } catch (err) {
      throw toNativeError(err);
    }
    if (r instanceof Promise) return r.catch((err: unknown) => { throw toNativeError(err); }) as R;
    return r;
  };
}

function call<R>(fn: () => R): R {
  try {
    return fn();
  } catch (err) {
    throw toNativeError(err);
  }
}

/** The binding's RootedDir with every method guarded (the class cannot go through `guard`). */
function rootedDirClass(b: typeof Binding): typeof Binding.RootedDir {
  return class RootedDir implements Binding.RootedDir {
    readonly #dir: Binding.RootedDir;
    constructor(path: string, privileged: boolean) {
      this.#dir = call(() => new b.RootedDir(path, privileged));
    }
    mkdir(path: string): void { call(() => this.#dir.mkdir(path)); }
    createFile(path: string): number { return call(() => this.#dir.createFile(path)); }
    finishFile(fd: number, meta: Binding.EntryMeta): void { call(() => this.#dir.finishFile(fd, meta)); }
    symlink(path: string, target: string): void { call(() => this.#dir.symlink(path, target)); }
    hardlink(path: string, target: string): void { call(() => this.#dir.hardlink(path, target)); }
    mknod(path: string, kind: string, major: number, minor: number): void { call(() => this.#dir.mknod(path, kind, major, minor)); }
    whiteout(path: string): void { call(() => this.#dir.whiteout(path)); }
    setMetadata(path: string, meta: Binding.EntryMeta): void { call(() => this.#dir.setMetadata(path, meta)); }
    applyBatch(ops: Buffer): Promise<void> { return call(() => this.#dir.applyBatch(ops)).catch((err: unknown) => { throw toNativeError(err); }); }
    discardBatch(): void { call(() => this.#dir.discardBatch()); }
  };
}

/** Classes of the binding and their wrappers; a class missing here fails the load (and the unit test). */
const CLASSES: Record<string, (b: typeof Binding) => unknown> = { RootedDir: rootedDirClass };

function isClass(v: unknown): boolean {
  const proto = (v as { prototype?: object }).prototype;
  return typeof v === 'function' && proto !== undefined && Object.getOwnPropertyNames(proto).length > 1;
}

/** Every export of `b` wrapped; exported for the unit test that checks none is left raw. */
export function wrapBinding(b: typeof Binding): NativeApi {
  const api: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(b)) {
    const wrapClass = CLASSES[name];
    if (wrapClass) api[name] = wrapClass(b);
    else if (isClass(value)) throw new TsbuildError('E_NATIVE', `native class ${name} has no wrapper in src/native/index.ts`, { exitCode: ExitCode.internal });
    else api[name] = typeof value === 'function' ? guard(value as (...args: unknown[]) => unknown) : value;
  }
  return api as NativeApi;
}

let loaded: NativeApi | undefined;

/** The native binding, loaded on first use, every entry point wrapped. */
export function native(): NativeApi {
  if (!loaded) {
    let raw: typeof Binding;
    try {
      raw = require('../../crates/native/tsbuild-native.linux-x64-gnu.node') as typeof Binding;
    } catch (err) {
      throw new TsbuildError('E_NATIVE_MISSING', `cannot load the native module (run npm ci): ${(err as Error).message.split('\n')[0]}`, { exitCode: 125 });
    }
    loaded = wrapBinding(raw);
  }
  return loaded;
}

/**
 * Native calls fail with a NativeError whose message is of the form
 * `<what> <path>: <strerror>`. Wrap them to say what the caller was doing.
 */
export function nativeCall<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw fromNative(what, err);
  }
}

/** The native error with `what` in front; exit code 1, as a failed command. Other TsbuildErrors pass as they are. */
export function fromNative(what: string, err: unknown): TsbuildError {
  if (err instanceof NativeError) return new NativeError({ code: err.code, message: `${what}: ${err.message}`, errno: err.errno }, { exitCode: ExitCode.failure, cause: err });
  if (err instanceof TsbuildError) return err;
  const f = readNativeError(err);
  return new NativeError({ ...f, message: `${what}: ${f.message}` }, { exitCode: ExitCode.failure, cause: err });
}

/**
 * Best effort: mark `dir` as the top of unrelated trees (FS_TOPDIR_FL, the
 * crate's topdir.rs), so that ext4 starts each subdirectory in a group of
 * its own instead of the parent's, where inodes freed in the last seconds
 * make every new file slow to allocate (ext4 without a journal). True when
 * the file system keeps the flag; a refusal changes nothing but placement.
 */
export function markTopDir(dir: string): boolean {
  try {
    return native().markTopDir(dir);
  } catch {
    return false;
  }
}

/**
 * Best effort: start writing `fd`'s dirty pages to disk now (see the
 * crate's rootedfs::writeback). A failure only means the later flush does
 * all the work, so it is ignored.
 */
function startWriteback(fd: number): void {
  try {
    native().startWriteback(fd);
  } catch {
    // e.g. a file system without sync_file_range support: nothing lost.
  }
}

/** Dirty bytes of a file after which the kernel is asked to start writing them out. */
const WRITEBACK_BYTES = 8 << 20;

/**
 * Starts early writeback of one file every 8 MiB written to it, so that the
 * fsync or syncfs that precedes naming it only waits for the tail.
 */
export class WritebackPacer {
  private unflushed = 0;

  constructor(private readonly fd: number) {}

  /** Record `bytes` written to the file. */
  wrote(bytes: number): void {
    this.unflushed += bytes;
    if (this.unflushed >= WRITEBACK_BYTES) {
      this.unflushed = 0;
      startWriteback(this.fd);
    }
  }

  /** Start writeback of the tail too, when it is at least `minBytes`. */
  finish(minBytes: number): void {
    if (this.unflushed >= minBytes) startWriteback(this.fd);
    this.unflushed = 0;
  }
}
