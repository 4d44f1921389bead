// A container's security settings as the command line gives them
// (`--security-opt seccomp=unconfined|PROFILE.json`, and a build's
// `RUN --security=insecure`), and what they mean for the process the
// runtime starts: the seccomp policy, the capabilities, masked /proc paths.
// The seccomp profiles themselves (docker's default included) are compiled
// by the native side; this module only reads the user's file and has it
// checked up front, so a bad profile fails before any container exists.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { TsbuildError, ExitCode, usageError } from '../errors.js';
import { native } from '../native/index.js';

export interface SecurityConfig {
  /** `unconfined`, or the text of a docker-format JSON profile. Absent: docker's default profile. */
  seccomp?: string;
  /** Where the profile came from, for messages and `inspect`. */
  seccompFile?: string;
  /** BuildKit's insecure mode: every capability, no seccomp, nothing masked in /proc. */
  insecure?: boolean;
}

/** What the native spawn options take from a SecurityConfig. */
export interface ProcessSecurity {
  seccomp: string | undefined;
  capabilities: string[] | undefined;
  maskPaths: boolean;
}

export function processSecurity(sec: SecurityConfig | undefined): ProcessSecurity {
  if (sec?.insecure) return { seccomp: 'unconfined', capabilities: ['ALL'], maskPaths: false };
  return { seccomp: sec?.seccomp, capabilities: undefined, maskPaths: true };
}

/** Compiled filters are kept under the store, so only the first process after a change pays for the compile. */
export function useSeccompCache(root: string): void {
  native().setSeccompCacheDir(join(root, 'cache', 'seccomp'));
}

/** Reads and checks a profile file; the error names the file. */
function loadProfile(path: string): SecurityConfig {
  const file = resolve(path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TsbuildError('E_SECCOMP_PROFILE', `cannot read the seccomp profile: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { location: { file: path }, exitCode: ExitCode.internal });
  }
  try {
    native().checkSeccompProfile(text);
  } catch (err) {
    throw new TsbuildError('E_SECCOMP_PROFILE', (err as Error).message.split('\n')[0] ?? 'invalid seccomp profile', { location: { file: path }, exitCode: ExitCode.internal });
  }
  return { seccomp: text, seccompFile: file };
}

/**
 * `--security-opt` values, docker's spelling: `seccomp=unconfined`,
 * `seccomp=PROFILE.json` (also `seccomp:…`), and `no-new-privileges`, which
 * tsbuild always applies. Anything else is refused rather than ignored.
 */
export function parseSecurityOpts(values: readonly string[], root: string): SecurityConfig {
  let sec: SecurityConfig = {};
  if (values.length > 0) useSeccompCache(root);
  for (const v of values) {
    const m = /^([a-z-]+)(?:[=:](.*))?$/s.exec(v);
    const key = m?.[1];
    const value = m?.[2];
    if (key === 'seccomp' && value) {
      sec = value === 'unconfined' ? { seccomp: 'unconfined' } : loadProfile(value);
    } else if (key === 'no-new-privileges' && (value === undefined || value === 'true')) {
      // Always on: every container process runs with no_new_privs.
    } else {
      throw usageError(`unsupported --security-opt "${v}": expected seccomp=unconfined, seccomp=PROFILE.json or no-new-privileges`);
    }
  }
  return sec;
}

/** BuildKit's entitlements for `--allow`: only security.insecure changes anything here. */
export function parseAllow(values: readonly string[]): { insecure: boolean } {
  let insecure = false;
  for (const v of values.flatMap((x) => x.split(','))) {
    if (v === 'security.insecure') insecure = true;
    else if (v !== 'network.host') throw usageError(`invalid --allow "${v}": expected security.insecure or network.host`);
  }
  return { insecure };
}
