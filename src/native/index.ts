// The only importer of the napi binding. It loads the .node file directly
// (the generated loader probes the platform at start-up, which costs time on
// every CLI call) and turns native errors into TsbuildErrors.
import { createRequire } from 'node:module';
import { ERROR_CODES, TsbuildError, type ErrorCode } from '../errors.js';
import { isNativeErrorCode } from './errors.js';
import type * as Binding from '../../crates/native/binding.js';

const require = createRequire(import.meta.url);
let loaded: typeof Binding | undefined;

/** The native binding, loaded on first use. */
export function native(): typeof Binding {
  if (!loaded) {
    try {
      loaded = require('../../crates/native/tsbuild-native.linux-x64-gnu.node') as typeof Binding;
    } catch (err) {
      throw new TsbuildError('E_NATIVE_MISSING', `cannot load the native module (run npm ci): ${(err as Error).message.split('\n')[0]}`, { exitCode: 125 });
    }
  }
  return loaded;
}

/**
 * Native calls fail with `err.code` set to a stable string and a message of
 * the form `<what> <path>: <strerror>`. Wrap them so callers see our error type.
 */
export function nativeCall<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw fromNative(what, err);
  }
}

export function fromNative(what: string, err: unknown): TsbuildError {
  if (err instanceof TsbuildError) return err;
  const e = err as { code?: string; message?: string };
  const code = isErrorCode(e.code) ? e.code : 'E_NATIVE';
  return new TsbuildError(code, `${what}: ${e.message ?? String(err)}`, { cause: err });
}

/** A code from the crate that is one of ErrorCode (napi's own statuses, e.g. GenericFailure, are not). */
function isErrorCode(code: unknown): code is ErrorCode {
  return isNativeErrorCode(code) || (typeof code === 'string' && Object.hasOwn(ERROR_CODES, code));
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
