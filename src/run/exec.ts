// `exec`: another process in a running container. It joins the
// container's namespaces and cgroup (the native spawnInContainer) and runs
// under the container's own user lookup (users added in its rw layer
// count), seccomp profile and capabilities, as docker exec does.
import { ExitCode, TsbuildError } from '../errors.js';
import { native } from '../native/index.js';
import { cgroupProcsFiles } from './cgroups.js';
import { containerPaths } from './container-fs.js';
import { exitStatusCode, refreshContainer, type LaunchStdio } from './container.js';
import { attached, type AttachMode } from './foreground.js';
import { launchError } from './launch-error.js';
import { execCandidates, mergeEnv } from './process-spec.js';
import { processSecurity, useSeccompCache } from './security.js';
import { findContainer } from './state.js';
import { inUserNamespace } from '../store/privilege.js';
import { resolveUser } from './user.js';

export interface ExecOptions extends AttachMode {
  /** The command and its arguments. */
  args: string[];
  /** K=V entries over the container's environment (-e). */
  env: string[];
  /** USER[:GROUP]; default the container's. */
  user?: string;
  /** Default the container's working directory. */
  cwd?: string;
}

/** Runs `opts.args` in container `ref` in the foreground; resolves with its exit status as `run` reports one. */
export async function execInContainer(root: string, ref: string, opts: ExecOptions): Promise<number> {
  const found = findContainer(root, ref);
  const c = refreshContainer(root, found);
  if (!c || c.status !== 'running' || c.pid === undefined) throw new TsbuildError('E_NOT_RUNNING', `container ${found.name} is not running`, { exitCode: ExitCode.internal });
  const targetPid = c.pid;
  const paths = containerPaths(root, c.id);
  const user = resolveUser(c.layerDirs, opts.user ?? c.config.user, [paths.init, paths.upper]);
  const env = mergeEnv(c.config.env, opts.env);
  if (opts.tty && !env.some((e) => e.startsWith('TERM='))) env.push('TERM=xterm');
  const cwd = opts.cwd ?? c.config.cwd;
  const { args } = opts;
  const security = processSecurity(c.config.security);
  useSeccompCache(root);
  const spawn = (stdio: LaunchStdio): number => {
    let r;
    try {
      r = native().spawnInContainer({
        targetPid,
        process: { args, env, execCandidates: execCandidates(args[0] as string, env, cwd), cwd, uid: user.uid, gid: user.gid, groups: user.groups, noNewPrivs: true, dieWithParent: true, capabilities: security.capabilities, seccomp: security.seccomp },
        stdio: 'ttySlave' in stdio ? { ttySlave: stdio.ttySlave } : { fds: stdio.fds },
        cgroupProcs: c.cgroupName ? cgroupProcsFiles(c.cgroupName) : [],
      });
    } catch (err) {
      // Rootless: a CLI in a sibling user namespace may not open the container's namespaces.
      if (inUserNamespace() && /Permission denied|EPERM|EACCES/.test(`${(err as Error).message} ${(err as { errno?: unknown }).errno ?? ''}`)) {
        throw new TsbuildError('E_ROOTLESS_EXEC', `rootless: cannot exec into ${c.name}: it runs in a sibling user namespace (two tsbuild commands each made one at the same time); restart it`, { exitCode: ExitCode.internal });
      }
      throw err;
    }
    if (r.pid === undefined || r.pid === null) throw launchError(r, args[0] as string, 'the container', `cannot exec in container ${c.name}`);
    return r.pid;
  };
  const st = await attached(opts, spawn, (pid) => native().waitPid(pid));
  return exitStatusCode({ exitCode: st.exitCode ?? undefined, signal: st.signal ?? undefined, oomKilled: false });
}
