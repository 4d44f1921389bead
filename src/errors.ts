// The one error type users see. Every failure that reaches the CLI carries a
// stable code (for scripts and tests), a one-line message, and where it
// applies a location such as `Containerfile:12`. The CLI prints
// `tsbuild: <message> (<location>)` and never a stack trace.

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
  readonly code: string;
  readonly location: ErrorLocation | undefined;
  readonly exitCode: number;

  constructor(code: string, message: string, opts: { location?: ErrorLocation; exitCode?: number; cause?: unknown } = {}) {
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
