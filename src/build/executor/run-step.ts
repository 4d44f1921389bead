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
import { createContainer, launchContainer, removeContainerFiles, waitContainer, exitStatusCode, oomMessage } from '../../run/container.js';
import type { ResourceLimits } from '../../run/limits.js';
import { stackView } from '../../image/stack-view.js';
import { containerEnv } from '../../run/process-spec.js';
import { runScript, type RunInstruction } from '../index.js';
import { commandArgv, DEFAULT_SHELL } from './config-steps.js';
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
  mounts: Omit<MountContext, 'line' | 'workdir' | 'root'>;
  /** Where the command's output goes (an fd). */
  outputFd: number;
}

export interface RunStepResult {
  /** The container's upperdir: the step's changes in overlay form. */
  upperDir: string;
  /** Remove the step's container (after the layer is written). */
  dispose(): void;
}

/** `env` (KEY=VALUE) with each ARG replacing the variable of its name, or added after them. */
function withArgs(env: readonly string[], args: ReadonlyMap<string, string>): string[] {
  const key = (kv: string): string => kv.slice(0, kv.indexOf('=') < 0 ? kv.length : kv.indexOf('='));
  const out = env.map((kv) => (args.has(key(kv)) ? `${key(kv)}=${args.get(key(kv))}` : kv));
  for (const [k, v] of args) if (!env.some((kv) => key(kv) === k)) out.push(`${k}=${v}`);
  return out;
}

/** The argv for a RUN, including the shebang-heredoc case (a script file bound into the container). */
function argvFor(run: RunInstruction, shell: readonly string[] | undefined, scratch: () => string): { argv: string[]; script?: string } {
  const s = runScript(run);
  if (s.kind === 'exec') return { argv: s.argv };
  if (s.kind === 'shell') return { argv: commandArgv({ form: 'shell', args: [s.script] }, shell) };
  const file = join(scratch(), 'script');
  writeFileSync(file, s.content);
  chmodSync(file, 0o755);
  return { argv: ['/dev/.tsbuild-run-script'], script: file };
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
  const mounts = await prepareMounts(run.mounts, { ...input.mounts, root: input.root, line: run.line, workdir });
  if (script) mounts.binds.push({ source: script, target: '/dev/.tsbuild-run-script', readonly: true, isFile: true });
  // ARGs are visible to the command but never stored. `args` holds only ARGs
  // set after any ENV of their name (expandStage), so they replace it, as in BuildKit.
  const env = containerEnv({ ...config, Env: withArgs(config.Env ?? [], input.args) }, mounts.env, { hostname: 'buildkitsandbox', home: '/root', tty: false });
  const network = run.network === 'none' ? 'none' : run.network === 'host' ? 'host' : input.network;
  const state = createContainer(input.root, {
    image: { id: 'build-step', name: 'build-step', layerDirs: input.layerDirs, config },
    kind: 'build',
    detached: false,
    autoRemove: true,
    config: { args: argv, env, cwd: workdir, user: config.User ?? '', hostname: 'buildkitsandbox', network, tty: false, interactive: false, limits: input.limits, binds: mounts.binds },
  });
  const dispose = () => {
    removeContainerFiles(input.root, state);
    if (scratchDir) rmSync(scratchDir, { recursive: true, force: true });
  };
  const devnull = openSync('/dev/null', 'r');
  try {
    let pid: number;
    try {
      pid = launchContainer(input.root, state, { fds: [devnull, input.outputFd, input.outputFd] });
    } finally {
      native().closeFd(devnull);
    }
    const exit = await waitContainer(input.root, state, pid);
    const code = exitStatusCode(exit);
    if (code !== 0) {
      const why = exit.oomKilled ? oomMessage(state) : exit.signal !== undefined ? `was killed by signal ${exit.signal}` : `returned a non-zero code: ${code}`;
      throw new TsbuildError('E_RUN_FAILED', `RUN ${run.source.replace(/^RUN\s+/i, '').split('\n')[0]}: the command ${why}`, { location: { file: input.mounts.file, line: run.line } });
    }
    const upperDir = containerPaths(input.root, state.id).upper;
    removeMountArtifacts(upperDir, mounts.targets, input.layerDirs);
    return { upperDir, dispose };
  } catch (err) {
    dispose();
    if (err instanceof TsbuildError && !err.location) throw new TsbuildError(err.code, err.message, { location: { file: input.mounts.file, line: run.line }, exitCode: err.exitCode, cause: err });
    throw err;
  } finally {
    mounts.release();
  }
}
