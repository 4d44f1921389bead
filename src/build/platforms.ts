// Platform rules of a build, as BuildKit applies them:
// - a stage runs on `FROM --platform=P` when given (after ARG expansion, so
//   `--platform=$BUILDPLATFORM` names the host: the cross-compile pattern,
//   where a builder stage runs natively), else on the target platform;
// - a RUN step runs natively when the stage's image is of the host's
//   architecture, else through a binfmt_misc emulator that must be there.
// buildah 1.28 runs a `--platform=$BUILDPLATFORM` stage of a foreign-target
// build under emulation; we follow BuildKit and run it natively.
import { TsbuildError } from '../errors.js';
import type { Platform } from '../image/oci.js';
import { configPlatform, formatPlatform, parsePlatform, runsNatively } from '../image/platform.js';
import { checkEmulator } from '../run/binfmt.js';

/**
 * The platform a stage's base is taken for; undefined when the build names
 * no platform and the FROM has no --platform (the image's own, as before).
 */
export function stagePlatform(fromPlatform: string | null, build: { target: Platform } | undefined, file: string, line: number): Platform | undefined {
  if (fromPlatform !== null && fromPlatform.trim() !== '') {
    try {
      return parsePlatform(fromPlatform);
    } catch (err) {
      if (err instanceof TsbuildError) throw new TsbuildError('E_BAD_PLATFORM', `FROM --platform: ${err.message}`, { location: { file, line } });
      throw err;
    }
  }
  return build?.target;
}

/** Before a RUN: a foreign image needs a usable emulator (binfmt.ts), else one clear line. */
export function ensureRunnable(config: { architecture?: string; os?: string; variant?: string }, file: string, line: number): void {
  const p = configPlatform(config);
  if (runsNatively(p)) return;
  try {
    checkEmulator(p, formatPlatform(p));
  } catch (err) {
    if (err instanceof TsbuildError) throw new TsbuildError(err.code, err.message, { location: { file, line } });
    throw err;
  }
}
