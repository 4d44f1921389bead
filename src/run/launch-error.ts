// Why a container process could not start, as `run` and `exec` report it.
// The native spawn returns the failing stage and errno instead of throwing
// (the child reports them over its sync pipe); both commands map them the
// same way, after docker's contract: 127 not found, 126 cannot be invoked,
// 125 a failure of tsbuild's own.
import { constants as osConstants } from 'node:os';
import { ExitCode, TsbuildError } from '../errors.js';

export interface SpawnFailure {
  stage?: string | null;
  errno?: number | null;
  message?: string | null;
}

/**
 * `argv0` is the command the user gave; `where` ends the not-found message
 * ("the image" for run, "the container" for exec); `prefix` starts the
 * message of any other failure (`cannot start container`).
 */
export function launchError(r: SpawnFailure, argv0: string, where: string, prefix: string): TsbuildError {
  if (r.stage === 'exec' && r.errno === osConstants.errno.ENOENT) {
    return new TsbuildError('E_EXEC_NOT_FOUND', `executable file not found: "${argv0}" is not in $PATH or does not exist in ${where}`, { exitCode: ExitCode.notFound });
  }
  if (r.stage === 'exec' && (r.errno === osConstants.errno.EACCES || r.errno === osConstants.errno.ENOEXEC)) {
    return new TsbuildError('E_EXEC_DENIED', `cannot execute "${argv0}": ${r.message ?? 'permission denied'}`, { exitCode: ExitCode.cannotInvoke });
  }
  // Any other failure of the exec itself still means the command cannot be invoked.
  return new TsbuildError('E_START', `${prefix}: ${r.message ?? 'unknown failure'}`, { exitCode: r.stage === 'exec' ? ExitCode.cannotInvoke : ExitCode.internal });
}
