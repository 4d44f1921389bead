// CLI entry: global options, command dispatch, and the one place where
// errors become `tsbuild: <message> (<location>)` lines and exit codes.
import { commands } from './commands.js';
import { isLogLevel, makeLogger, type LogLevel } from '../log.js';
import { defaultRoot, type CliContext } from './context.js';
import { ExitCode, isTsbuildError, usageError } from '../errors.js';
import { resolve } from 'node:path';
import { needsReexec, reexecRootless } from './rootless/reexec.js';
import { setLazyFetcher } from '../store/lazy-blobs.js';

const globalHelp = `Usage: tsbuild [--root DIR] [--log-level LEVEL] COMMAND [ARGS...]
       tsbuild -f FILE -t NAME[:TAG] CONTEXT     (the same as \`tsbuild build\`)

A daemonless container image builder and runtime.

Global options:
  --root DIR           store and state directory (default $TSBUILD_ROOT, /var/lib/tsbuild;
                       rootless: ~/.local/share/tsbuild)
  --log-level LEVEL    error|warn|info|debug (default info)
  --help               show help for tsbuild or a command
  --version, -v        print the version

Commands:
`;

export async function main(argv: string[]): Promise<number> {
  let root: string | undefined;
  let level: LogLevel = 'info';
  let i = 0;
  try {
    // Global options come before the command.
    for (; i < argv.length; i++) {
      const a = argv[i] as string;
      const [name, inline] = a.startsWith('--') ? splitEq(a) : [a, undefined];
      if (name === '--root' || name === '--log-level') {
        const v = inline ?? argv[++i];
        if (v === undefined || v === '') throw usageError(`flag needs an argument: ${name}`);
        if (name === '--root') root = resolve(v);
        else if (isLogLevel(v)) level = v;
        else throw usageError(`invalid --log-level "${v}": expected error, warn, info or debug`);
        continue;
      }
      break;
    }
    const rest = argv.slice(i);
    const first = rest[0];
    if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
      process.stdout.write(globalHelp + Object.entries(commands).map(([n, c]) => `  ${n.padEnd(10)} ${c.summary}`).join('\n') + '\n');
      return first === undefined ? ExitCode.usage : 0;
    }
    if (first === '--version' || first === '-v') {
      process.stdout.write((await import('./cmd-version.js')).versionLine());
      return 0;
    }
    // `tsbuild -f FILE -t NAME CONTEXT` is `tsbuild build ...`.
    const [cmdName, cmdArgs] = first.startsWith('-') && commands.build ? ['build', rest] : [first, rest.slice(1)];
    const cmd = commands[cmdName];
    if (!cmd) throw usageError(`unknown command "${cmdName}" (see tsbuild --help)`);
    // An ordinary user: the command runs in a user namespace where it is root (rootless mode).
    if (needsReexec()) return await reexecRootless(argv, root ?? defaultRoot());
    const ctx: CliContext = { root: root ?? defaultRoot(), log: makeLogger(level), stdout: process.stdout };
    // Layers a cached build recorded lazily are fetched through the registry client on first use.
    setLazyFetcher(async (store, blob, sink) => (await import('../registry/lazy-fetch.js')).fetchLazy(store, blob, sink));
    const mod = await cmd.load();
    return await mod.run(ctx, cmdArgs);
  } catch (err) {
    return reportError(err, level);
  }
}

function splitEq(a: string): [string, string | undefined] {
  const eq = a.indexOf('=');
  return eq < 0 ? [a, undefined] : [a.slice(0, eq), a.slice(eq + 1)];
}

/** Print one line (a stack only at debug level) and choose the exit code. */
export function reportError(err: unknown, level: LogLevel): number {
  if (isTsbuildError(err)) {
    process.stderr.write(`tsbuild: ${err.describe()}\n`);
    if (level === 'debug' && err.stack) process.stderr.write(`${err.stack}\n`);
    return err.exitCode;
  }
  const e = err as NodeJS.ErrnoException;
  const msg = e && typeof e.message === 'string' ? e.message.split('\n')[0] : String(err);
  process.stderr.write(`tsbuild: ${msg}\n`);
  if (level === 'debug' && e?.stack) process.stderr.write(`${e.stack}\n`);
  return ExitCode.internal;
}
