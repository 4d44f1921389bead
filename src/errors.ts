// The one error type users see. Every failure that reaches the CLI carries a
// stable code (for scripts and tests), a one-line message, and where it
// applies a location such as `Containerfile:12`. The CLI prints
// `tsbuild: <message> (<location>)` and never a stack trace.
//
// The codes are one closed set: ERROR_CODES below plus the native module's
// NativeErrorCode (src/native/errors.ts, which owns that list). What each
// means is written here for both (the source of the README's errors table:
// scripts/errors-table.mjs); NATIVE_ERROR_MEANINGS is typed by the native
// union, so a native code without a meaning does not compile. TsbuildError
// takes only an ErrorCode, so a new code is added once, or not at all.
import type { NativeErrorCode } from './native/errors.js';

/**
 * Every code TypeScript throws, with what it means. One code per condition
 * (no synonyms: a malformed input is E_BAD_*, a missing one *_NOT_FOUND);
 * test/unit/errors.test.ts holds this list to the codes src/ uses.
 */
export const ERROR_CODES = {
  // Command line and inputs
  E_USAGE: 'a bad flag, argument or flag value on the command line',
  E_NO_CONTAINERFILE: 'no Containerfile or Dockerfile where one was looked for, or it cannot be read',
  E_BAD_CONTEXT: 'the build context on stdin is not a tar archive',
  E_BAD_IGNORE: 'a .containerignore/.dockerignore line is invalid',
  E_BAD_PATTERN: 'a wildcard or ignore pattern has a syntax error',
  E_WRITE: 'an output file (--iidfile, --metadata-file) cannot be written',
  E_ENTITLEMENT: 'the build needs an entitlement that was not granted (--allow)',
  E_SECRET_MISSING: 'a RUN --mount=type=secret needs a secret that was not given (--secret)',
  E_SECCOMP_PROFILE: 'the --security-opt seccomp profile cannot be read or is invalid',
  // Containerfile syntax
  E_PARSE: 'a Containerfile line does not parse',
  E_EMPTY_FILE: 'the Containerfile has no instructions',
  E_NO_FROM: 'no FROM, or an instruction other than ARG before the first FROM',
  E_UNKNOWN_INSTRUCTION: 'an unknown instruction (with a did-you-mean)',
  E_UNKNOWN_FLAG: 'an unknown flag on an instruction (with a did-you-mean)',
  E_BAD_FLAG: 'an instruction flag with a bad value, a duplicate or no value',
  E_MISSING_ARG: 'an instruction lacks a required argument or value',
  E_EXTRA_ARG: 'an instruction has more arguments than it takes',
  E_NOT_JSON: 'an instruction that needs the JSON form (SHELL) has another',
  E_BAD_DIRECTIVE: 'a parser directive (# escape=, # syntax=) is invalid or repeated',
  E_BAD_HEREDOC: 'an invalid heredoc delimiter or a heredoc where none may be',
  E_HEREDOC_UNTERMINATED: 'a heredoc has no closing delimiter line',
  E_EXPAND: 'a variable expansion (${VAR:?...}, a bad substitution) fails',
  E_BAD_ONBUILD: 'an instruction ONBUILD cannot hold',
  E_BAD_STAGE_NAME: 'a FROM ... AS name is not a valid stage name',
  E_DUPLICATE_STAGE: 'two stages have the same name',
  E_UNKNOWN_STAGE: 'a --target, --from or stage index names no stage of the build',
  E_STAGE_CYCLE: 'stages depend on each other in a circle',
  E_BAD_PORT: 'an EXPOSE port is invalid',
  E_BAD_SIGNAL: 'a STOPSIGNAL signal is invalid',
  E_BAD_PLATFORM: 'FROM --platform names an invalid platform',
  E_BAD_MOUNT: 'a RUN --mount option is invalid',
  E_MOUNT_TYPE: 'a RUN --mount type is not supported',
  E_MOUNT_TARGET: 'a RUN --mount lacks target=',
  E_MOUNT_SECRET: 'a secret mount lacks id= and target=',
  E_MOUNT_SOURCE: 'a RUN --mount source does not exist',
  E_BAD_CHANGE: 'a commit --change is not a config instruction',
  // COPY and ADD
  E_SOURCE_NOT_FOUND: 'a COPY/ADD source names nothing',
  E_SOURCE_EXCLUDED: 'a COPY/ADD source is excluded by the ignore file',
  E_SOURCE_OUTSIDE_CONTEXT: 'a COPY/ADD or mount source resolves outside the build context',
  E_SOURCE_IS_URL: 'COPY was given a URL (ADD fetches URLs)',
  E_DEST_NOT_DIR: 'a COPY/ADD destination path runs through a file',
  E_BAD_CHMOD: 'an invalid --chmod value',
  E_BAD_CHOWN: 'an invalid --chown value',
  E_BAD_CHECKSUM: 'an invalid ADD --checksum value',
  E_BAD_URL: 'an invalid ADD URL, or one that gives no file name',
  E_URL_FETCH: 'an ADD URL cannot be downloaded',
  E_COPY_FAILED: 'a COPY/ADD failed while writing the layer',
  E_NOT_SYMLINK: 'a path expected to be a symbolic link is not one',
  E_SYMLINK_LOOP: 'too many levels of symbolic links inside an image',
  // Build steps and containers
  E_RUN_FAILED: 'a RUN step exited non-zero or was killed',
  E_NO_COMMAND: 'no command: the image has no CMD or ENTRYPOINT and none was given',
  E_EXEC_NOT_FOUND: 'the command is not in $PATH or does not exist in the container',
  E_EXEC_DENIED: 'the command (or its #! interpreter) cannot be executed',
  E_START: 'a container or exec process cannot be started',
  E_BAD_WORKDIR: 'the working directory is not an absolute path',
  E_USER_NOT_FOUND: "a USER/--user name is not in the image's passwd file",
  E_GROUP_NOT_FOUND: "a group name is not in the image's group file",
  E_BAD_IDMAP: 'the user-namespace maps do not map container uid and gid 0',
  E_BAD_NAME: 'an invalid container name',
  E_NAME_IN_USE: 'the container name is taken',
  E_CONTAINER_NOT_FOUND: 'no such container',
  E_AMBIGUOUS_ID: 'an ID prefix matches several images or containers',
  E_NOT_RUNNING: 'the container is not running',
  E_CONTAINER_RUNNING: 'the container is running (stop it or use rm -f)',
  E_KILL_FAILED: 'the container did not die after SIGKILL',
  E_COMMIT_DIR_IMAGE: 'commit of a container that runs a plain directory, not an image',
  E_CGROUP: 'a cgroup cannot be created',
  E_UNSAFE_ROOTFS: "a mount target in the image's root is a symbolic link or not a directory",
  E_MAX_DEPTH: "the image has more layers than the kernel's overlayfs stacks",
  E_ROOTLESS_IDS: 'rootless: the user has no subordinate uid or gid range (/etc/subuid, /etc/subgid)',
  E_ROOTLESS_MAPPER: 'rootless: newuidmap/newgidmap is missing or refused the mapping',
  E_ROOTLESS_KERNEL: 'rootless: the kernel lacks what a rootless build needs (user namespaces, overlayfs in one)',
  E_ROOTLESS_LIMITS: 'rootless: a resource limit flag needs a cgroup the user may not have',
  E_ROOTLESS_EXEC: 'rootless: exec into a container of a sibling user namespace',
  E_LAZY_SOURCE: 'a layer a cached build left lazy cannot be fetched from its cache source any more',
  E_NO_EMULATOR: 'no binfmt_misc emulator for a foreign-architecture step',
  // Images and the store
  E_IMAGE_NOT_FOUND: 'no such image (in the store, or a registry answered 404 for its manifest)',
  E_BLOB_NOT_FOUND: 'a blob is not in the store, or a registry answered 404 for it',
  E_IMAGE_CONFLICT: 'rmi of an image with several names, without --force',
  E_IMAGE_IN_USE: 'rmi of an image a container uses',
  E_BAD_REFERENCE: 'an invalid image reference or tag',
  E_BAD_DIGEST: 'an invalid digest (not sha256:<64 lowercase hex>)',
  E_DIGEST_MISMATCH: 'content does not match its digest or size (blob, layer, manifest, ADD --checksum)',
  E_CORRUPT_IMAGE: "an image's manifest and config disagree (layer count)",
  E_STORE_CORRUPT: 'a store record or JSON blob is not valid',
  E_STORE: 'the store cannot be opened',
  E_BAD_LAYER: 'a layer tar or its compression is invalid',
  E_BAD_ARCHIVE: 'an image archive (load) is invalid',
  E_ARCHIVE_MISSING: 'an image archive or a file in it is missing',
  E_BAD_CACHE: 'a --cache-from source is invalid or does not match its digest',
  E_CACHE_EXPORT: 'a --cache-to export failed',
  // Registries
  E_REGISTRY: 'a registry or token server answered something unexpected',
  E_REGISTRY_UNREACHABLE: 'a registry or token server cannot be reached',
  E_UNAUTHORIZED: 'a registry refused the credentials or requires a login (401)',
  E_DENIED: 'a registry forbids the access (403)',
  E_TOO_MANY_REQUESTS: 'a registry rate-limits the requests (429)',
  E_TLS: 'the TLS handshake with a registry failed',
  E_TLS_CONFIG: 'a client certificate has no matching key',
  E_AUTH_CHALLENGE: 'a registry sent an invalid bearer challenge',
  E_AUTH_FILE: 'a credentials file cannot be read or is invalid',
  E_REGISTRIES_CONF: 'registries.conf cannot be read',
  E_UNSUPPORTED_MANIFEST: 'a manifest or config is of an unsupported kind or too large',
  E_NO_MATCHING_PLATFORM: 'an image index has no image for the platform',
  // Internal
  E_INTERNAL: 'a broken invariant inside tsbuild (a bug)',
} as const satisfies Record<string, string>;

/** What each native code means (src/native/errors.ts names them and says where they come from). */
export const NATIVE_ERROR_MEANINGS = {
  E_NATIVE_INPUT: 'a native call got something unusable (a NUL byte, an empty command, an unknown mode)',
  E_NATIVE_SPAWN: 'starting, joining, waiting for or signalling a container process failed',
  E_NATIVE_CGROUP: 'creating, limiting or removing a cgroup failed',
  E_NATIVE_SECCOMP: 'a seccomp profile does not parse or compile',
  E_NATIVE_MOUNT: 'a mount of the native module failed (the /proc view)',
  E_NATIVE_IO: 'other native file and fd work failed (ptys, pipes, layer scans, xattrs, writeback)',
  E_LAYER_FS: 'a rooted file operation inside a layer failed',
  E_UNSAFE_PATH: 'a layer entry tried to leave or name its root',
  E_LOCK: 'a file lock cannot be taken',
  E_NATIVE_MISSING: 'the native module cannot be loaded (run npm ci)',
  E_NATIVE: 'a native call failed without a code of its own',
} as const satisfies Record<NativeErrorCode, string>;

/** The codes TypeScript throws. */
export type TsErrorCode = keyof typeof ERROR_CODES;

/** Every stable code a TsbuildError can carry: ours and the native module's. */
export type ErrorCode = TsErrorCode | NativeErrorCode;

/** Exit codes follow docker's `run` contract; 1 is a plain command failure. */
export const ExitCode = {
  failure: 1,
  usage: 2,
  internal: 125,
  cannotInvoke: 126,
  notFound: 127,
} as const;

export interface ErrorLocation {
  file: string;
  line?: number;
}

export class TsbuildError extends Error {
  readonly code: ErrorCode;
  readonly location: ErrorLocation | undefined;
  readonly exitCode: number;

  constructor(code: ErrorCode, message: string, opts: { location?: ErrorLocation; exitCode?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'TsbuildError';
    this.code = code;
    this.location = opts.location;
    this.exitCode = opts.exitCode ?? ExitCode.failure;
  }

  /** `<message> (<file>:<line>)`, the one line the CLI prints after `tsbuild: `. */
  describe(): string {
    if (!this.location) return this.message;
    const where = this.location.line === undefined ? this.location.file : `${this.location.file}:${this.location.line}`;
    return `${this.message} (${where})`;
  }
}

export function isTsbuildError(err: unknown): err is TsbuildError {
  return err instanceof TsbuildError;
}

/** A usage error: a bad flag, a missing argument. Exit code 125 as docker does for its own failures. */
export function usageError(message: string): TsbuildError {
  return new TsbuildError('E_USAGE', message, { exitCode: ExitCode.internal });
}

/** An errno in words, for one-line messages about a path the user named. */
export function describeErrno(err: unknown): string {
  switch ((err as NodeJS.ErrnoException)?.code) {
    case 'ENOENT': return 'no such file or directory';
    case 'EISDIR': return 'it is a directory';
    case 'ENOTDIR': return 'a component of the path is not a directory';
    case 'EACCES': case 'EPERM': return 'permission denied';
    case 'ELOOP': return 'too many levels of symbolic links';
    case 'ENAMETOOLONG': return 'the name is too long';
    default: return (err as Error)?.message?.split('\n')[0] ?? String(err);
  }
}
