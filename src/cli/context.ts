// What every command receives: the resolved store root, the logger (src/log.ts)
// that writes human output to stderr, and stdout for results (per the contract).
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Logger } from '../log.js';

export interface CliContext {
  root: string;
  log: Logger;
  stdout: NodeJS.WritableStream;
}

/**
 * `--root`, else `$TSBUILD_ROOT`, else /var/lib/tsbuild for root and
 * ~/.local/share/tsbuild otherwise, including rootless mode, where the
 * CLI runs as uid 0 of its user namespace (TSBUILD_ROOTLESS is set).
 */
export function defaultRoot(env: NodeJS.ProcessEnv = process.env, uid: number = process.getuid?.() ?? 0): string {
  if (env.TSBUILD_ROOT) return resolve(env.TSBUILD_ROOT);
  if (uid === 0 && env.TSBUILD_ROOTLESS === undefined) return '/var/lib/tsbuild';
  return join(env.HOME ?? homedir(), '.local/share/tsbuild');
}
