// Errors with a place. Line parsers and instruction parsers throw plain
// TsbuildErrors (code + message); whoever knows the file and the line wraps
// them once, so every error that leaves src/build names `file:line` and no
// message repeats its location.
import { TsbuildError, type ErrorCode } from '../../errors.js';

export function locatedError(code: ErrorCode, message: string, file: string, line: number): TsbuildError {
  return new TsbuildError(code, message, { location: { file, line } });
}

/** Give an error without a location one; errors that already have one pass through. */
export function addLocation(err: unknown, file: string, line: number): unknown {
  if (err instanceof TsbuildError && err.location === undefined) {
    return new TsbuildError(err.code, err.message, { location: { file, line }, exitCode: err.exitCode, cause: err });
  }
  return err;
}

/** Run fn; any location-less TsbuildError it throws is placed at file:line. */
export function atLine<T>(file: string, line: number, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw addLocation(err, file, line);
  }
}

/** A location-less error for code that doesn't know where it is; see atLine. */
export function fail(code: ErrorCode, message: string): never {
  throw new TsbuildError(code, message);
}

/** User text for a one-line message: as is when plain, JSON-quoted when it holds spaces or control characters. */
export function shown(text: string): string {
  return /^[^\s\p{Cc}\p{Cf}]+$/u.test(text) ? text : JSON.stringify(text);
}
