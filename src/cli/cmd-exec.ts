// `tsbuild exec [-i] [-t] CONTAINER CMD...`: start another process inside a
// running container by joining its namespaces and cgroup.
import { openSync } from 'node:fs';
import { formatFlagHelp, parseArgs, type FlagSpec } from './args.js';
import type { CliContext } from './context.js';
import { TsbuildError, ExitCode, usageError } from '../errors.js';
import { native } from '../native/index.js';
import { forwardSignals, relayPty, withTimeout } from '../run/attach.js';
import { cgroupProcsFiles } from '../run/cgroups.js';
import { containerPaths } from '../run/container-fs.js';
import { exitStatusCode, refreshContainer } from '../run/container.js';
import { execCandidates, mergeEnv } from '../run/process-spec.js';
import { findContainer } from '../run/state.js';
import { resolveUser } from '../run/user.js';
import { processSecurity, useSeccompCache } from '../run/security.js';
import { inUserNamespace } from '../store/privilege.js';

const flags: FlagSpec[] = [
  { name: 'interactive', short: 'i', type: 'bool', help: 'keep stdin attached' },
  { name: 'tty', short: 't', type: 'bool', help: 'allocate a pseudo-terminal' },
  { name: 'env', short: 'e', type: 'list', help: 'set an environment variable', value: 'K=V' },
  { name: 'workdir', short: 'w', type: 'string', help: 'working directory', value: 'DIR' },
  { name: 'user', short: 'u', type: 'string', help: 'user (name or uid) and optional group', value: 'USER[:GROUP]' },
  { name: 'help', type: 'bool', help: 'show this help' },
];

export async function run(ctx: CliContext, argv: string[]): Promise<number> {
  const a = parseArgs(argv, flags, { stopAtPositional: true });
  if (a.bools.get('help')) { process.stdout.write(`Usage: tsbuild exec [OPTIONS] CONTAINER COMMAND [ARG...]\n\n${formatFlagHelp(flags)}\n`); return 0; }
  const [ref, ...args] = a.positionals;
  if (!ref || args.length === 0) throw usageError('"tsbuild exec" requires a container and a command');
  const tty = a.bools.get('tty') ?? false;
  const interactive = a.bools.get('interactive') ?? false;
  if (interactive && tty && !process.stdin.isTTY) throw usageError('the input device is not a TTY (drop -t, or run from a terminal)');
  const found = findContainer(ctx.root, ref);
  const c = refreshContainer(ctx.root, found);
  if (!c || c.status !== 'running' || c.pid === undefined) throw new TsbuildError('E_NOT_RUNNING', `container ${found.name} is not running`, { exitCode: ExitCode.internal });
  const paths = containerPaths(ctx.root, c.id);
  const userSpec = a.strings.get('user') ?? c.config.user;
  // Users added inside the container (adduser in its rw layer) count too.
  const user = resolveUser(c.layerDirs, userSpec, [paths.init, paths.upper]);
  const env = mergeEnv(c.config.env, a.lists.get('env') ?? []);
  if (tty && !env.some((e) => e.startsWith('TERM='))) env.push('TERM=xterm');
  const cwd = a.strings.get('workdir') ?? c.config.cwd;
  // docker exec runs under the container's own seccomp profile and capabilities.
  const security = processSecurity(c.config.security);
  useSeccompCache(ctx.root);

  let pty: { master: number; slave: number; slavePath: string } | undefined;
  let devnull: number | undefined;
  if (tty) pty = native().openPty(process.stdout.columns ?? 80, process.stdout.rows ?? 24);
  else if (!interactive) devnull = openSync('/dev/null', 'r');
  const forwarding = forwardSignals();
  let r;
  try {
    r = native().spawnInContainer({
      targetPid: c.pid,
      process: { args, env, execCandidates: execCandidates(args[0] as string, env, cwd), cwd, uid: user.uid, gid: user.gid, groups: user.groups, noNewPrivs: true, dieWithParent: true, capabilities: security.capabilities, seccomp: security.seccomp },
      stdio: pty ? { ttySlave: pty.slave } : { fds: [devnull ?? 0, 1, 2] },
      cgroupProcs: c.cgroupName ? cgroupProcsFiles(c.cgroupName) : [],
    });
  } catch (err) {
    // Rootless: a CLI in a sibling user namespace may not open the container's namespaces.
    if (inUserNamespace() && /Permission denied/.test((err as Error).message)) {
      forwarding.stop();
      throw new TsbuildError('E_ROOTLESS_EXEC', `rootless: cannot exec into ${c.name}: it runs in a sibling user namespace (two tsbuild commands each made one at the same time); restart it`, { exitCode: ExitCode.internal });
    }
    throw err;
  } finally {
    if (pty) native().closeFd(pty.slave);
    if (devnull !== undefined) native().closeFd(devnull);
  }
  if (r.pid === undefined || r.pid === null) {
    forwarding.stop();
    if (pty) native().closeFd(pty.master);
    if (r.stage === 'exec' && r.errno === 2) throw new TsbuildError('E_EXEC_NOT_FOUND', `executable file not found: "${args[0]}" is not in $PATH or does not exist in the container`, { exitCode: ExitCode.notFound });
    throw new TsbuildError('E_EXEC', `cannot exec in container ${c.name}: ${r.message}`, { exitCode: r.stage === 'exec' ? ExitCode.cannotInvoke : ExitCode.internal });
  }
  forwarding.setPid(r.pid);
  const relay = pty ? relayPty(pty.master, interactive) : undefined;
  const st = await native().waitPid(r.pid);
  if (relay && pty) {
    await withTimeout(relay.drained, 2000);
    relay.stop();
    native().closeFd(pty.master);
  }
  forwarding.stop();
  return exitStatusCode({ exitCode: st.exitCode ?? undefined, signal: st.signal ?? undefined, oomKilled: false });
}
