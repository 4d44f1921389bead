// What every command receives: the resolved store root and a logger that
// writes human output to stderr (results go to stdout, per the contract).
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
const levelRank: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export interface Logger {
  level: LogLevel;
  error(msg: string): void;
  warn(msg: string): void;
  info(msg: string): void;
  debug(msg: string): void;
}

export function makeLogger(level: LogLevel, write: (s: string) => void = (s) => process.stderr.write(s)): Logger {
  const at = (l: LogLevel) => (msg: string) => { if (levelRank[l] <= levelRank[level]) write(`${l === 'info' ? '' : `${l}: `}${msg}\n`); };
  return { level, error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}

export interface CliContext {
  root: string;
  log: Logger;
  stdout: NodeJS.WritableStream;
}

/** `--root`, else `$TSBUILD_ROOT`, else /var/lib/tsbuild for root and ~/.local/share/tsbuild otherwise. */
export function defaultRoot(env: NodeJS.ProcessEnv = process.env, uid: number = process.getuid?.() ?? 0): string {
  if (env.TSBUILD_ROOT) return resolve(env.TSBUILD_ROOT);
  if (uid === 0) return '/var/lib/tsbuild';
  return join(env.HOME ?? homedir(), '.local/share/tsbuild');
}

export function isLogLevel(s: string): s is LogLevel {
  return s in levelRank;
}
