// Container records under ROOT/containers/<id>/state.json. They survive the
// CLI exiting (detached containers, working containers) and are what `ps`
// lists. Writes go through a temp file and rename so a crash never leaves a
// torn record.
import { nodeCrypto } from '../node-crypto.js';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TsbuildError } from '../errors.js';
import type { OciContainerConfig } from '../image/runnable.js';
import { markTopDir } from '../native/index.js';
import type { ResourceLimits } from './limits.js';
import type { SecurityConfig } from './security.js';
import { prepareSpare, takeSpare } from './spare-dir.js';

export type ContainerStatus = 'created' | 'running' | 'exited';

export interface BindSpec {
  source: string;
  target: string;
  readonly: boolean;
  /** A tmpfs that starts with what the image has at the target (buildah's tmpcopyup); its root's owner and mode. */
  copyUp?: { mode: number; uid: number; gid: number };
  /** Default: whether the source is a file. */
  isFile?: boolean;
  /** Mount this filesystem (tmpfs) instead of binding `source`. */
  fstype?: string;
  data?: string;
  /** Mount an overlay of these dirs (topmost first) instead; any depth the kernel stacks. */
  lowerDirs?: string[];
  /** With lowerDirs: a read-write layer and its overlay work dir. */
  upperDir?: string;
  workDir?: string;
}

/** One line of a user namespace map: container ids [containerId, containerId+size) are host ids from hostId. */
export interface IdMap { containerId: number; hostId: number; size: number }

/** How to run the container's process; kept so `ps`, `inspect` and `exec` can use it. */
export interface RunConfig {
  args: string[];
  env: string[];
  cwd: string;
  user: string;
  hostname: string;
  network: 'host' | 'none';
  tty: boolean;
  interactive: boolean;
  limits: ResourceLimits;
  binds: BindSpec[];
  /** With maps, the container gets a user namespace. */
  uidMaps?: IdMap[];
  gidMaps?: IdMap[];
  /** --security-opt / RUN --security; absent is docker's defaults. */
  security?: SecurityConfig;
}

export interface ContainerState {
  id: string;
  name: string;
  created: string;
  /** `run` containers run a process; `working` ones (tsbuild from) are rootfs only until run/commit; `build` ones are a build's RUN steps (transient, hidden from ps). */
  kind: 'run' | 'working' | 'build';
  imageId: string;
  imageName: string;
  /** Bottom first. */
  layerDirs: string[];
  imageConfig: OciContainerConfig;
  config: RunConfig;
  status: ContainerStatus;
  detached: boolean;
  autoRemove: boolean;
  pid?: number;
  /** /proc/<pid>/stat start time, so a recycled pid is never mistaken for ours. */
  pidStartTime?: number;
  /** Pre-exec peak RSS of the forked process, which its rusage includes (run/usage.ts). */
  forkRssBytes?: number;
  /** The tsbuild process that waits on a foreground container. */
  ownerPid?: number;
  ownerStartTime?: number;
  cgroupName?: string;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  signal?: number;
  oomKilled?: boolean;
}

export function containersDir(root: string): string {
  return join(root, 'containers');
}

export function containerDir(root: string, id: string): string {
  return join(containersDir(root), id);
}

export function newContainerId(): string {
  return nodeCrypto().randomBytes(32).toString('hex');
}

const adjectives = ['brave', 'calm', 'eager', 'fond', 'keen', 'lucid', 'merry', 'quiet', 'sharp', 'swift', 'tidy', 'witty'];
const nouns = ['turing', 'hopper', 'lovelace', 'ritchie', 'thompson', 'knuth', 'liskov', 'torvalds', 'pike', 'cerf', 'hamilton', 'wirth'];

export function randomName(taken: ReadonlySet<string>): string {
  for (;;) {
    const b = nodeCrypto().randomBytes(3);
    const name = `${adjectives[(b[0] as number) % adjectives.length]}_${nouns[(b[1] as number) % nouns.length]}${taken.size > 50 ? (b[2] as number) : ''}`;
    if (!taken.has(name)) return name;
  }
}

const markedRoots = new Set<string>();

/**
 * containers/ holds one tree per container (its upper dir gets every file a
 * step writes): marked once per process as the top of unrelated trees, so
 * that each container starts in a block group of its own (see markTopDir).
 */
function ensureContainersDir(root: string): void {
  if (markedRoots.has(root)) return;
  mkdirSync(containersDir(root), { recursive: true });
  markTopDir(containersDir(root));
  markedRoots.add(root);
}

/**
 * A new container's directory (a build step's taken from the spare made
 * ahead, and the next spare started: see spare-dir.ts).
 */
export function makeContainerDir(root: string, id: string, opts: { ahead: boolean }): void {
  ensureContainersDir(root);
  const dir = containerDir(root, id);
  if (!takeSpare(containersDir(root), dir)) mkdirSync(dir, { recursive: true });
  if (opts.ahead) prepareSpare(containersDir(root));
}

export function writeState(root: string, state: ContainerState): void {
  ensureContainersDir(root);
  const dir = containerDir(root, state.id);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `state.json.${process.pid}.tmp`);
  // Compact: on a deep image the record holds every layer dir and the image config, written twice a step.
  writeFileSync(tmp, JSON.stringify(state));
  renameSync(tmp, join(dir, 'state.json'));
}

export function readState(root: string, id: string): ContainerState | undefined {
  try {
    return JSON.parse(readFileSync(join(containerDir(root, id), 'state.json'), 'utf8')) as ContainerState;
  } catch {
    return undefined;
  }
}

export function listStates(root: string): ContainerState[] {
  let ids: string[];
  try {
    ids = readdirSync(containersDir(root));
  } catch {
    return [];
  }
  return ids.flatMap((id) => {
    const s = readState(root, id);
    return s ? [s] : [];
  }).sort((a, b) => b.created.localeCompare(a.created));
}

/** Finds a container by name, full ID or unique ID prefix, as docker does. */
export function findContainer(root: string, ref: string): ContainerState {
  const all = listStates(root);
  const byName = all.find((c) => c.name === ref);
  if (byName) return byName;
  const byId = all.filter((c) => c.id.startsWith(ref));
  if (byId.length === 1 && ref.length >= 1) return byId[0] as ContainerState;
  if (byId.length > 1) throw new TsbuildError('E_AMBIGUOUS_ID', `container ID prefix "${ref}" matches ${byId.length} containers`);
  throw new TsbuildError('E_CONTAINER_NOT_FOUND', `no such container: ${ref}`);
}
