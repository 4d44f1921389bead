// Rootless mode's entry: an ordinary user's CLI re-executes itself in a new
// user and mount namespace (crates/native/src/userns.rs) where it is uid 0,
// with the user's subordinate ranges mapped by Debian's setuid newuidmap and
// newgidmap, as buildah's pkg/unshare does. This process stays outside to
// write the maps, forward signals and return the inner CLI's exit status;
// everything else (store, builds, containers) happens inside, as "root".
//
// The inner CLI finds TSBUILD_ROOTLESS=<host uid> in its environment: it
// keeps the store at ~/.local/share/tsbuild and does not re-execute again.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants, release, userInfo } from 'node:os';
import { TsbuildError } from '../../errors.js';
import { native } from '../../native/index.js';
import { kernelProblem, mapperArgs, requireRanges } from './idmap.js';
import { joinablePid } from './join.js';

export const ROOTLESS_ENV = 'TSBUILD_ROOTLESS';
const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];

/** True when this CLI must re-execute itself in a user namespace first. */
export function needsReexec(env: NodeJS.ProcessEnv = process.env): boolean {
  return process.getuid?.() !== 0 && env[ROOTLESS_ENV] === undefined;
}

function readOptional(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function runMapper(tool: string, args: string[]): void {
  // Loaded here: main.ts imports this module on every command, and node:child_process
  // (with net and stream) is ~8 ms of a cached build's start-up.
  const { spawnSync } = createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process');
  const r = spawnSync(tool, args, { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new TsbuildError('E_ROOTLESS_MAPPER', `rootless: ${tool} not found (install Debian's uidmap package)`, { exitCode: 125 });
  }
  if (r.status !== 0) {
    const why = (r.stderr ?? '').trim().split('\n').at(-1) || (r.error?.message ?? `exit status ${r.status}`);
    throw new TsbuildError('E_ROOTLESS_MAPPER', `rootless: ${tool} failed: ${why}`, { exitCode: 125 });
  }
}

/**
 * Runs `argv` (the CLI's own arguments) in the rootless namespace and
 * resolves to its exit code. A signal that killed it is re-raised here.
 */
export async function reexecRootless(argv: string[], root: string): Promise<number> {
  const kernel = kernelProblem(release());
  if (kernel) throw new TsbuildError('E_ROOTLESS_KERNEL', kernel, { exitCode: 125 });
  const me = userInfo();
  const uids = requireRanges(readOptional('/etc/subuid'), '/etc/subuid', me.username, me.uid);
  const gids = requireRanges(readOptional('/etc/subgid'), '/etc/subgid', me.username, me.uid);
  const env = Object.entries({ ...process.env, [ROOTLESS_ENV]: String(me.uid) }).map(([k, v]) => `${k}=${v ?? ''}`);
  const script = process.argv[1] as string;
  // A running detached container's namespace already has its maps: join it.
  const join = joinablePid(root);
  const child = native().usernsSpawn([process.execPath, ...process.execArgv, script, ...argv], env, join);
  try {
    if (join === undefined) {
      runMapper('newuidmap', mapperArgs(child.pid, me.uid, uids));
      runMapper('newgidmap', mapperArgs(child.pid, me.gid, gids));
    }
  } catch (err) {
    native().usernsRelease(child.syncFd, false);
    await native().waitPid(child.pid);
    throw err;
  }
  const forward = (sig: NodeJS.Signals): void => { native().signalPid(child.pid, constants.signals[sig]); };
  for (const s of FORWARDED) process.on(s, forward);
  native().usernsRelease(child.syncFd, true);
  const status = await native().waitPid(child.pid);
  for (const s of FORWARDED) process.removeListener(s, forward);
  if (status.signal !== undefined && status.signal !== 0) {
    process.kill(process.pid, status.signal);
    return 128 + status.signal;
  }
  return status.exitCode ?? 125;
}
