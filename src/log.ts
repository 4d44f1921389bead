// The logger every layer writes human output through (to stderr; results go
// to stdout, per the contract), and its levels.
//
// Owns: the Logger shape and the level filter. It lives at the bottom of src/
// because build, image, registry and run all take a Logger; when it lived in
// cli/context.ts each of them imported the CLI (issue 15).
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

export function isLogLevel(s: string): s is LogLevel {
  return s in levelRank;
}
