// The error codes of the native core and how a thrown native error is read.
// The crate's error::Code is the source of these names (keep the two lists
// in step; test/unit/native/errors.test.ts checks this list against the
// Rust file). Kept apart from src/errors.ts, which includes NativeErrorCode
// in its ErrorCode union, and free of imports from it, so that neither
// module depends on the other at run time.
//
// Wire format (crates/native/src/error.rs): a sync call throws an Error whose
// `code` is the code; an async task can only reject with napi's fixed status
// `GenericFailure`, so its message starts with `<code>: `. An errno shows as
// Rust's io::Error prints it, `... (os error N)` at the end of the message.
import { constants } from 'node:os';

export const NATIVE_ERROR_CODES = [
  /** The caller passed something unusable (a NUL byte, an empty command, an unknown mode). */
  'E_NATIVE_INPUT',
  /** Starting, joining, waiting for or signalling a container process. */
  'E_NATIVE_SPAWN',
  /** Creating, limiting or removing a cgroup. */
  'E_NATIVE_CGROUP',
  /** A seccomp profile that does not parse or compile. */
  'E_NATIVE_SECCOMP',
  /** Mounting (the /proc view's fuse mount). */
  'E_NATIVE_MOUNT',
  /** Other file and fd work: ptys, pipes, layer scans, xattrs, writeback. */
  'E_NATIVE_IO',
  /** A rooted (layer unpack) file operation failed. */
  'E_LAYER_FS',
  /** A layer entry tried to leave or name its root. */
  'E_UNSAFE_PATH',
  /** Taking a file lock. */
  'E_LOCK',
] as const;

/** Codes only the TypeScript side of the binding gives. */
export const BINDING_ERROR_CODES = [
  /** The .node file does not load. */
  'E_NATIVE_MISSING',
  /** A native failure without a code of ours (napi's own argument checks). */
  'E_NATIVE',
] as const;

export type NativeErrorCode = (typeof NATIVE_ERROR_CODES)[number] | (typeof BINDING_ERROR_CODES)[number];

/** A native error as read off the wire: its code, its message without a code prefix, and its errno. */
export interface NativeFailure {
  code: NativeErrorCode;
  message: string;
  /** The errno's name (`ENOENT`) when the kernel refused; its number when Node has no name for it. */
  errno: string | undefined;
}

const KNOWN = new Set<string>(NATIVE_ERROR_CODES);
const ERRNO_NAMES = new Map(Object.entries(constants.errno).map(([name, n]) => [n, name]));

export function isNativeErrorCode(s: unknown): s is (typeof NATIVE_ERROR_CODES)[number] {
  return typeof s === 'string' && KNOWN.has(s);
}

/** Reads the code, message and errno of an error thrown or rejected by the binding. */
export function readNativeError(err: unknown): NativeFailure {
  const e = (err ?? {}) as { code?: unknown; message?: unknown };
  let message = typeof e.message === 'string' ? e.message : String(err);
  let code: NativeErrorCode = 'E_NATIVE';
  if (isNativeErrorCode(e.code)) {
    code = e.code;
  } else {
    const lead = /^(E_[A-Z_]+): /.exec(message);
    if (lead && isNativeErrorCode(lead[1])) {
      code = lead[1];
      message = message.slice(lead[0].length);
    }
  }
  const os = /\(os error (\d+)\)$/.exec(message);
  const errno = os ? (ERRNO_NAMES.get(Number(os[1])) ?? os[1]) : undefined;
  return { code, message, errno };
}
