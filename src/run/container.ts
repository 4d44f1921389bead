// Container lifecycle: create (dirs + record), launch (cgroup + native
// spawn), observe (wait, refresh), and end (stop, kill, remove). The CLI
// commands are thin layers over these functions, and the build engine
// uses the same launch path for RUN steps.
import { chownSync, existsSync, openSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { TsbuildError, ExitCode } from '../errors.js';
import { native } from '../native/index.js';
import type { RunnableImage } from '../image/runnable.js';
import { cgroupName, createCgroup, oomKilled, refuseRootlessLimits, removeCgroup, rootlessCgroups } from './cgroups.js';
import { containerPaths, INIT_FILES, prepareContainerDirs } from './container-fs.js';
import { detachLeftoverView, prepareProcView } from './procview.js';
import { formatBytes } from './limits.js';
import { execCandidates } from './process-spec.js';
import { launchError } from './launch-error.js';
import { isAlive, startTime } from './proc.js';
import { newContainerId, randomName, listStates, makeContainerDir, writeState, type ContainerState, type IdMap, type RunConfig } from './state.js';
import { resolveMountTargets } from './mount-targets.js';
import { checkStackDepth } from './overlay-depth.js';
import { resolveUser } from './user.js';
import { processSecurity, useSeccompCache } from './security.js';
import { measureUsage, type ProcessUsage } from './usage.js';

export interface CreateOptions {
  /** Chosen by the caller when the hostname must default to it; else generated. */
  id?: string;
  image: RunnableImage;
  name?: string;
  kind: ContainerState['kind'];
  config: RunConfig;
  detached: boolean;
  autoRemove: boolean;
  /**
   * Another build container will follow in this process: make its directory
   * ahead (spare-dir.ts). Only then: the process would wait at exit for a
   * mkdir nobody uses.
   */
  anotherFollows?: boolean;
}

export function createContainer(root: string, opts: CreateOptions): ContainerState {
  const existing = listStates(root);
  const names = new Set(existing.map((c) => c.name));
  if (opts.name !== undefined) {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(opts.name)) throw new TsbuildError('E_BAD_NAME', `invalid container name "${opts.name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`, { exitCode: ExitCode.internal });
    if (names.has(opts.name)) throw new TsbuildError('E_NAME_IN_USE', `the container name "${opts.name}" is already in use; remove that container or choose another name`, { exitCode: ExitCode.internal });
  }
  if (rootlessCgroups()) refuseRootlessLimits(opts.config.limits);
  // The image's layers and the init layer: refused before anything is written.
  checkStackDepth(opts.image.layerDirs.length + 1, `a container of ${opts.image.layerDirs.length} image layers (and its init layer)`);
  const id = opts.id ?? newContainerId();
  const hostname = opts.config.hostname || id.slice(0, 12);
  const state: ContainerState = {
    id,
    name: opts.name ?? randomName(names),
    created: new Date().toISOString(),
    kind: opts.kind,
    imageId: opts.image.id,
    imageName: opts.image.name,
    layerDirs: opts.image.layerDirs,
    imageConfig: opts.image.config,
    config: { ...opts.config, hostname },
    status: 'created',
    detached: opts.detached,
    autoRemove: opts.autoRemove,
    // A build step without limits needs no cgroup: its PID namespace already
    // takes every process down with PID 1, and attaching a task to a v1
    // cgroup costs a quarter of a short RUN step.
    // Rootless without limits: no cgroup either (a user may not create one).
    cgroupName: Object.keys(opts.config.limits).length === 0 && (opts.kind === 'build' || rootlessCgroups()) ? undefined : cgroupName(root, id),
  };
  // A build step is reaped with its build even if that dies before the launch
  // (kill -9), and a foreground run with the CLI that launches it: its output
  // can reach the caller before the "running" record is written.
  if (opts.kind === 'build' || (opts.kind === 'run' && !opts.detached)) {
    state.ownerPid = process.pid;
    state.ownerStartTime = startTime(process.pid);
  }
  // The record goes first: whatever a crash leaves after this, the reaper can find.
  makeContainerDir(root, id, { ahead: opts.anotherFollows === true });
  writeState(root, state);
  prepareContainerDirs(containerPaths(root, id), hostname);
  return state;
}

export type LaunchStdio = { fds: [number, number, number] } | { ttySlave: number; ttyPath: string };

/**
 * Starts the container's process. Foreground processes die with this
 * process (even on kill -9); detached ones are watched by a monitor that
 * records their exit status in the container dir.
 */
export function launchContainer(root: string, state: ContainerState, stdio: LaunchStdio): number {
  const paths = containerPaths(root, state.id);
  const cfg = state.config;
  const user = resolveUser(state.layerDirs, cfg.user);
  const requested = cfg.binds.map((b) => ({ source: b.source, target: b.target, readonly: b.readonly, isFile: b.isFile ?? (b.fstype === undefined && !isDirectory(b.source)), fstype: b.fstype, data: b.data, lowerDirs: b.lowerDirs, upperDir: b.upperDir, workDir: b.workDir, copyUp: b.copyUp }));
  // Targets resolved inside the root: a link in the image or the rw layer must not lead the runtime's mkdir to the host.
  const binds = resolveMountTargets(state.layerDirs, requested, [paths.init, paths.upper]);
  const cgroup = state.cgroupName;
  const procsFiles = cgroup === undefined ? [] : createCgroup(cgroup, cfg.limits);
  let view;
  try {
    view = prepareProcView(paths.dir, cgroup, cfg.limits, state.detached);
  } catch (err) {
    if (cgroup !== undefined) removeCgroup(cgroup);
    throw err;
  }
  binds.push(...view.binds);
  const tty = 'ttySlave' in stdio;
  if (cfg.uidMaps?.length) ownForUserNamespace(paths, cfg);
  const security = processSecurity(cfg.security);
  useSeccompCache(root);
  let r;
  try {
    r = native().spawnContainer({
      rootfs: paths.merged,
      lowerDirs: [paths.init, ...[...state.layerDirs].reverse()],
      upperDir: paths.upper,
      workDir: paths.work,
      hostname: cfg.hostname,
      network: cfg.network,
      uidMaps: cfg.uidMaps,
      gidMaps: cfg.gidMaps ?? cfg.uidMaps,
      binds,
      console: tty ? stdio.ttyPath : undefined,
      maskPaths: security.maskPaths,
      // A build step's upper dir becomes its layer once and is never mounted
      // again; the store syncs it with the build (see rootfs.rs).
      volatileUpper: state.kind === 'build',
      process: {
        args: cfg.args,
        env: cfg.env,
        execCandidates: execCandidates(cfg.args[0] as string, cfg.env, cfg.cwd),
        cwd: cfg.cwd,
        uid: user.uid,
        gid: user.gid,
        groups: user.groups,
        noNewPrivs: true,
        dieWithParent: true,
        capabilities: security.capabilities,
        seccomp: security.seccomp,
      },
      stdio: tty ? { ttySlave: stdio.ttySlave } : { fds: stdio.fds },
      cgroupProcs: procsFiles,
      statusPath: state.detached ? paths.statusFile : undefined,
    });
  } catch (err) {
    if (cgroup !== undefined) removeCgroup(cgroup);
    throw new TsbuildError('E_START', `cannot start container: ${(err as Error).message}`, { exitCode: ExitCode.internal });
  } finally {
    view.detach();
  }
  if (r.pid === undefined || r.pid === null) {
    if (cgroup !== undefined) removeCgroup(cgroup);
    throw launchError(r, cfg.args[0] as string, 'the image', 'cannot start container');
  }
  state.status = 'running';
  state.pid = r.pid;
  state.pidStartTime = startTime(r.pid);
  if (typeof r.forkRssBytes === 'number') state.forkRssBytes = r.forkRssBytes;
  state.startedAt = new Date().toISOString();
  if (!state.detached) {
    state.ownerPid = process.pid;
    state.ownerStartTime = startTime(process.pid);
  }
  writeState(root, state);
  return r.pid;
}

/** The host id that container id `id` maps to, or undefined when unmapped. */
export function mapToHost(maps: readonly IdMap[], id: number): number | undefined {
  const m = maps.find((x) => id >= x.containerId && id < x.containerId + x.size);
  return m === undefined ? undefined : m.hostId + (id - m.containerId);
}

/**
 * In a user namespace the container's root is an ordinary host uid, so the
 * directories it writes (the rw layer, the overlay work dir, the init layer)
 * must belong to that uid, or copy-up fails.
 */
function ownForUserNamespace(paths: ReturnType<typeof containerPaths>, cfg: RunConfig): void {
  const uid = mapToHost(cfg.uidMaps ?? [], 0);
  const gid = mapToHost(cfg.gidMaps ?? cfg.uidMaps ?? [], 0);
  if (uid === undefined || gid === undefined) throw new TsbuildError('E_BAD_IDMAP', 'the user namespace maps must map container uid and gid 0', { exitCode: ExitCode.internal });
  for (const dir of [paths.upper, paths.work, paths.merged, paths.init, join(paths.init, 'etc')]) chownSync(dir, uid, gid);
  for (const f of INIT_FILES) chownSync(join(paths.init, f), uid, gid);
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

export interface ExitInfo {
  exitCode?: number;
  signal?: number;
  oomKilled: boolean;
  /** What the process (and its cgroup) used; only from a wait, not from a recorded status. */
  usage?: ProcessUsage;
}

/** The exit status `run` returns: the code, or 128+N for death by signal N. */
export function exitStatusCode(e: ExitInfo): number {
  return e.signal !== undefined ? 128 + e.signal : (e.exitCode ?? 0);
}

/** Records how the container ended and frees its cgroup. */
export function markExited(root: string, state: ContainerState, e: ExitInfo): void {
  state.status = 'exited';
  state.exitCode = e.signal !== undefined ? 128 + e.signal : e.exitCode;
  state.signal = e.signal;
  state.oomKilled = e.oomKilled;
  state.finishedAt = new Date().toISOString();
  if (state.cgroupName) removeCgroup(state.cgroupName);
  // A build step's record is removed right after this (its owner is alive
  // and says so to any reaper meanwhile): writing "exited" first is a file
  // write and a rename per step for nobody.
  if (state.kind === 'build' && state.autoRemove) return;
  // `rm -f` may have removed the container while we waited: don't resurrect it.
  if (existsSync(containerPaths(root, state.id).dir)) writeState(root, state);
}

/** Waits for a foreground container's process and records its end. */
export async function waitContainer(root: string, state: ContainerState, pid: number): Promise<ExitInfo> {
  const st = await native().waitPid(pid);
  const info: ExitInfo = {
    exitCode: st.exitCode ?? undefined,
    signal: st.signal ?? undefined,
    oomKilled: state.cgroupName !== undefined && st.signal === 9 && oomKilled(state.cgroupName),
  };
  // Before markExited removes the cgroup and its counters.
  const usage = measureUsage(st.usage, state.cgroupName, state.forkRssBytes);
  if (usage) info.usage = usage;
  markExited(root, state, info);
  return info;
}

export function oomMessage(state: ContainerState): string {
  const limit = state.config.limits.memory;
  return `container ${state.name} was killed: out of memory (memory limit ${limit !== undefined ? formatBytes(limit) : 'of its cgroup'} reached)`;
}

/**
 * Brings a record up to date with reality: a container whose process is
 * gone (detached and exited, or foreground and its tsbuild was killed) is
 * marked exited, its cgroup removed, and removed itself if it was `--rm`.
 * Returns undefined when the record was removed.
 */
export function refreshContainer(root: string, state: ContainerState): ContainerState | undefined {
  // A build step created but never launched: its build was killed in between.
  if (state.status === 'created' && state.kind === 'build' && state.ownerPid !== undefined && !isAlive(state.ownerPid, state.ownerStartTime)) {
    removeContainerFiles(root, state);
    return undefined;
  }
  // A foreground run whose CLI was killed between the launch and the record
  // of it (its output can reach the caller first) may run, unrecorded.
  const unrecorded = state.status === 'created' && state.kind === 'run' && !state.detached && state.ownerPid !== undefined;
  if (state.status !== 'running' && !unrecorded) return state;
  if (!state.detached && isAlive(state.ownerPid, state.ownerStartTime)) return state; // its owner is recording the exit now
  const running = state.status === 'running' && isAlive(state.pid, state.pidStartTime);
  if (running && (state.detached || state.ownerPid === undefined)) return state;
  // A foreground container whose CLI was killed (-9) dies of its parent-death
  // signal, but on a loaded host it may not have yet: left as it was, its
  // cgroup and files outlived a store removed right after (a CI leak). It is
  // killed here (PID 1 of its namespace: all of it), and markExited below
  // removes the cgroup, waiting for its processes to be gone.
  if (running) signalContainer(state, 9);
  const paths = containerPaths(root, state.id);
  let info: ExitInfo = { signal: 9, oomKilled: false };
  if (state.detached && existsSync(paths.statusFile)) {
    const st = native().decodeWaitStatus(Number(readFileSync(paths.statusFile, 'utf8')));
    info = { exitCode: st.exitCode ?? undefined, signal: st.signal ?? undefined, oomKilled: false };
  }
  info.oomKilled = state.cgroupName !== undefined && info.signal === 9 && oomKilled(state.cgroupName);
  markExited(root, state, info);
  if (state.autoRemove) {
    removeContainerFiles(root, state);
    return undefined;
  }
  return state;
}

export function signalContainer(state: ContainerState, signal: number): boolean {
  if (state.status !== 'running' || !isAlive(state.pid, state.pidStartTime)) return false;
  return native().signalPid(state.pid as number, signal);
}

export function removeContainerFiles(root: string, state: ContainerState): void {
  const dir = releaseContainer(root, state);
  // A detached container's monitor may still be renaming its exit status into the dir.
  rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
}

/**
 * As removeContainerFiles, but the files go on the thread pool: a build step
 * need not wait for a dozen unlinks and rmdirs (slow when the disk's journal
 * is busy) before the next step starts. The cgroup and the /proc view go
 * now, and the dir is renamed into the store's tmp/ under this process's
 * pid first, so a kill mid-removal leaves garbage the next store open
 * removes, never a container dir without its record.
 */
export function removeContainerFilesLater(root: string, state: ContainerState): Promise<void> {
  const dir = releaseContainer(root, state);
  const doomed = join(root, 'tmp', `container-${process.pid}-${state.id.slice(0, 12)}`);
  try {
    renameSync(dir, doomed);
  } catch {
    return rm(dir, { recursive: true, force: true }); // gone already, or tmp/ elsewhere: remove in place
  }
  return rm(doomed, { recursive: true, force: true });
}

/** Frees what a container holds besides its files; returns its dir. */
function releaseContainer(root: string, state: ContainerState): string {
  if (state.cgroupName) removeCgroup(state.cgroupName);
  const dir = containerPaths(root, state.id).dir;
  if (existsSync(dir)) detachLeftoverView(dir);
  return dir;
}

/** Opens the detached container's log for appending; the caller closes it after launch. */
export function openLog(root: string, id: string): number {
  return openSync(containerPaths(root, id).logFile, 'a', 0o640);
}
