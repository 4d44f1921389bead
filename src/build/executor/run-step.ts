// RUN: a container on the stage's layers (read-only), the init layer and a
// fresh upperdir, made by the same runtime as `tsbuild run`. When the
// command succeeds the upperdir is the step's layer, as it is: no walk or
// copy of the rootfs. Mount points the step needed but the image lacked
// are removed from it first, so RUN --mount leaves no trace in the image.
import { openSync, rmSync, rmdirSync, lstatSync, writeFileSync, chmodSync } from 'node:fs';
import { join, posix } from 'node:path';
import { TsbuildError } from '../../errors.js';
import { native } from '../../native/index.js';
import type { OciContainerConfig } from '../../image/runnable.js';
import { containerPaths } from '../../run/container-fs.js';
import { createContainer, launchContainer, removeContainerFilesLater, waitContainer, exitStatusCode, oomMessage } from '../../run/container.js';
import { later } from './background.js';
import type { ResourceLimits } from '../../run/limits.js';
import { stackView } from '../../image/stack-view.js';
import type { ProcessUsage } from '../../run/usage.js';
import { containerEnv } from '../../run/process-spec.js';
import type { SecurityConfig } from '../../run/security.js';
import { resolveUser } from '../../run/user.js';
import { runScript, type RunInstruction } from '../index.js';
import { commandArgv, DEFAULT_SHELL } from '../instructions/config-steps.js';
import { prepareMounts, type MountContext } from './run-mounts.js';
import { makeTempDir } from '../../store/blobs.js';
import { checkStackDepth } from '../../run/overlay-depth.js';

export interface RunStepInput {
  root: string;
  run: RunInstruction;
  layerDirs: string[];
  config: OciContainerConfig;
  /** ARG values in scope: in the environment, never in the image. */
  args: ReadonlyMap<string, string>;
  network: 'host' | 'none';
  limits: ResourceLimits;
  /** The build's --security-opt; RUN --security=insecure overrides it. */
  security?: SecurityConfig;
  mounts: Omit<MountContext, 'line' | 'workdir' | 'root' | 'owner' | 'layerDirs'>;
  /** Where the command's output goes (an fd). */
  outputFd: number;
  /** Aborted when another stage of the build failed: the command is killed. */
  cancel?: AbortSignal;
  /** A later RUN step of this stage follows (its container dir is made meanwhile). */
  runFollows?: boolean;
}

export interface RunStepResult {
  /** The container's upperdir: the step's changes in overlay form. */
  upperDir: string;
  /** What the command used (cgroup counters or rusage), when measured. */
  usage?: ProcessUsage;
  /** From launch to exit. */
  wallMs: number;
  /** Remove the step's container (after the layer is written); its files go in the background. */
  dispose(): void;
}

/** `env` (KEY=VALUE) with each ARG replacing the variable of its name, or added after them. */
function withArgs(env: readonly string[], args: ReadonlyMap<string, string>): string[] {
  const key = (kv: string): string => kv.slice(0, kv.indexOf('=') < 0 ? kv.length : kv.indexOf('='));
  const out = env.map((kv) => (args.has(key(kv)) ? `${key(kv)}=${args.get(key(kv))}` : kv));
  for (const [k, v] of args) if (!env.some((kv) => key(kv) === k)) out.push(`${k}=${v}`);
  return out;
}

/** Where a shebang heredoc's script is bound; never shown to users (see scriptError). */
const SCRIPT_PATH = '/dev/.tsbuild-run-script';

interface Script {
  /** The host file bound at SCRIPT_PATH. */
  file: string;
  /** The `#!` line's interpreter, as written. */
  interpreter: string;
  /** The Containerfile line of the `#!` line. */
  line: number;
}

/** The argv for a RUN, including the shebang-heredoc case (a script file bound into the container). */
function argvFor(run: RunInstruction, shell: readonly string[] | undefined, scratch: () => string): { argv: string[]; script?: Script } {
  const s = runScript(run);
  if (s.kind === 'exec') return { argv: s.argv };
  if (s.kind === 'shell') return { argv: commandArgv({ form: 'shell', args: [s.script] }, shell) };
  const file = join(scratch(), 'script');
  writeFileSync(file, s.content);
  chmodSync(file, 0o755);
  // The body ends on the line before the delimiter (endLine), so it starts this many lines up.
  const bodyLines = s.content.split('\n').length - (s.content.endsWith('\n') ? 1 : 0);
  const interpreter = /^#!\s*(\S*)/.exec(s.content)?.[1] ?? '';
  return { argv: [SCRIPT_PATH], script: { file, interpreter, line: Math.max(run.line, run.endLine - bodyLines) } };
}

/**
 * The kernel reports a missing `#!` interpreter as ENOENT of the script
 * itself, which would name tsbuild's internal path. Name the interpreter
 * and the `#!` line instead (buildah and BuildKit print the runtime's
 * "no such file or directory" for the script, which helps nobody).
 */
function scriptError(err: TsbuildError, script: Script, file: string): TsbuildError {
  const location = { file, line: script.line };
  if (err.code === 'E_EXEC_NOT_FOUND') return new TsbuildError(err.code, `RUN: ${script.interpreter}: not found`, { location, exitCode: err.exitCode, cause: err });
  if (err.code === 'E_EXEC_DENIED') return new TsbuildError(err.code, `RUN: ${script.interpreter}: cannot execute the #! interpreter`, { location, exitCode: err.exitCode, cause: err });
  return err;
}

/** Removes, deepest first, mount points the step created that the image did not have. */
function removeMountArtifacts(upper: string, targets: readonly string[], layerDirs: readonly string[]): void {
  const created = new Set<string>();
  const view = stackView(layerDirs);
  for (const t of targets) {
    let p = posix.normalize(t);
    while (p !== '/' && view.lstat(p) === undefined) {
      created.add(p);
      p = posix.dirname(p);
    }
  }
  for (const p of [...created].sort((a, b) => b.length - a.length)) {
    const host = join(upper, p);
    try {
      const st = lstatSync(host);
      if (st.isDirectory()) rmdirSync(host); // only if empty: the step may have written there itself
      else if (st.isFile() && st.size === 0) rmSync(host);
    } catch { /* absent or not empty: leave it */ }
  }
}

export async function runStep(input: RunStepInput): Promise<RunStepResult> {
  const { run, config } = input;
  // Before anything is made: the step's layers and its container's init layer must stack.
  checkStackDepth(input.layerDirs.length + 1, `this step (on ${input.layerDirs.length} layers)`, { file: input.mounts.file, line: run.line });
  let scratchDir: string | undefined;
  const scratch = () => (scratchDir ??= makeTempDir(join(input.root, 'tmp'), 'run'));
  const { argv, script } = argvFor(run, config.Shell ?? DEFAULT_SHELL, scratch);
  const workdir = config.WorkingDir || '/';
  const owner = () => resolveUser(input.layerDirs, config.User ?? '');
  const mounts = await prepareMounts(run.mounts, { ...input.mounts, root: input.root, line: run.line, workdir, owner, layerDirs: input.layerDirs });
  if (script) mounts.binds.push({ source: script.file, target: SCRIPT_PATH, readonly: true, isFile: true });
  // ARGs are visible to the command but never stored. `args` holds only ARGs
  // set after any ENV of their name (expandStage), so they replace it, as in BuildKit.
  const env = containerEnv({ ...config, Env: withArgs(config.Env ?? [], input.args) }, mounts.env, { hostname: 'buildkitsandbox', home: '/root', tty: false });
  const network = run.network === 'none' ? 'none' : run.network === 'host' ? 'host' : input.network;
  const security = run.security === 'insecure' ? { insecure: true } : input.security;
  const state = createContainer(input.root, {
    image: { id: 'build-step', name: 'build-step', layerDirs: input.layerDirs, config },
    kind: 'build',
    detached: false,
    autoRemove: true,
    anotherFollows: input.runFollows === true,
    config: { args: argv, env, cwd: workdir, user: config.User ?? '', hostname: 'buildkitsandbox', network, tty: false, interactive: false, limits: input.limits, binds: mounts.binds, ...(security ? { security } : {}) },
  });
  // The files go in the background (background.ts): the next step need not wait for them.
  const dispose = () => {
    later(removeContainerFilesLater(input.root, state));
    if (scratchDir) rmSync(scratchDir, { recursive: true, force: true });
  };
  const devnull = openSync('/dev/null', 'r');
  try {
    let pid: number;
    const started = performance.now();
    try {
      input.cancel?.throwIfAborted();
      pid = launchContainer(input.root, state, { fds: [devnull, input.outputFd, input.outputFd] });
    } catch (err) {
      throw script && err instanceof TsbuildError ? scriptError(err, script, input.mounts.file) : err;
    } finally {
      native().closeFd(devnull);
    }
    // PID 1 of the step's PID namespace: killing it ends every process of the step.
    const kill = () => { try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ } };
    input.cancel?.addEventListener('abort', kill, { once: true });
    let exit: Awaited<ReturnType<typeof waitContainer>>;
    try {
      exit = await waitContainer(input.root, state, pid);
    } finally {
      input.cancel?.removeEventListener('abort', kill);
    }
    input.cancel?.throwIfAborted();
    const wallMs = performance.now() - started;
    const code = exitStatusCode(exit);
    if (code !== 0) {
      const why = exit.oomKilled ? oomMessage(state) : exit.signal !== undefined ? `was killed by signal ${exit.signal}` : `returned a non-zero code: ${code}`;
      throw new TsbuildError('E_RUN_FAILED', `RUN ${run.source.replace(/^RUN\s+/i, '').split('\n')[0]}: the command ${why}`, { location: { file: input.mounts.file, line: run.line } });
    }
    const upperDir = containerPaths(input.root, state.id).upper;
    removeMountArtifacts(upperDir, mounts.targets, input.layerDirs);
    return { upperDir, dispose, wallMs, ...(exit.usage ? { usage: exit.usage } : {}) };
  } catch (err) {
    dispose();
    if (err instanceof TsbuildError && !err.location) throw new TsbuildError(err.code, err.message, { location: { file: input.mounts.file, line: run.line }, exitCode: err.exitCode, cause: err });
    throw err;
  } finally {
    mounts.release();
  }
}
