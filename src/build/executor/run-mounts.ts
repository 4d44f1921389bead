// RUN --mount: cache (persisted under --root, shared/private/locked, seeded
// from= a stage: cache-mount.ts), bind (from the context, a stage or an
// image; read-only unless rw, and then writes land in a throwaway overlay;
// with buildah's U, a throwaway copy owned by the step's user), tmpfs
// (with tmpcopyup, showing the image's content at the target) and secret.
// Each becomes a mount inside the step's container only; none of them
// reaches the layer.
import { mkdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, posix, resolve, sep } from 'node:path';
import { TsbuildError, type ErrorCode } from '../../errors.js';
import { native } from '../../native/index.js';
import { stackView } from '../../image/stack-view.js';
import { checkStackDepth } from '../../run/overlay-depth.js';
import type { BindSpec } from '../../run/state.js';
import type { RunMount } from '../index.js';
import { makeTempDir, tempName } from '../../store/blobs.js';
import type { SecretSource } from './build-context.js';
import type { IgnoreMatcher } from '../copy/index.js';
import { cacheDir, type Held } from './cache-mount.js';
import { copyMountSource, type MountCopySource, type Owner } from './mount-copy.js';

export interface MountContext {
  root: string;
  contextDir: string;
  file: string;
  line: number;
  workdir: string;
  /** `--secret` from the command line. */
  secrets: ReadonlyMap<string, SecretSource>;
  /** Layer dirs (bottom first) of a stage or image named by `from=`. */
  layersOf(from: string): Promise<string[]>;
  /** The step's own layer dirs, bottom first (what the image has at a target). */
  layerDirs: readonly string[];
  /** The step's USER as uid/gid (buildah's `U` gives mounts to it). */
  owner(): Owner;
  /** The context's ignore rules (a copied context bind honours them, as COPY does). */
  ignore?: IgnoreMatcher;
}

export interface PreparedMounts {
  binds: BindSpec[];
  /** Extra environment (secrets with env=). */
  env: string[];
  /** Container paths the mounts needed; removed from the layer if the step created them. */
  targets: string[];
  release(): void;
}

function fail(ctx: MountContext, code: ErrorCode, message: string): never {
  throw new TsbuildError(code, message, { location: { file: ctx.file, line: ctx.line } });
}

/** A path inside the context, never outside it (symlinks resolved, then checked). */
function contextPath(ctx: MountContext, source: string): string {
  const base = realpathSync(ctx.contextDir);
  let real: string;
  try {
    real = realpathSync(resolve(base, `.${posix.resolve('/', source)}`));
  } catch {
    fail(ctx, 'E_MOUNT_SOURCE', `mount source ${source} not found in the build context`);
  }
  if (real !== base && !real.startsWith(base + sep)) fail(ctx, 'E_SOURCE_OUTSIDE_CONTEXT', `mount source ${source} resolves outside the build context`);
  return real;
}

/**
 * What `from=X,source=S` mounts: the host dirs (top first) whose copies of S
 * merge in X's layers, or S's one host file. A subdirectory is in only some
 * layers, and overlayfs needs every lowerdir to exist, so only the layers
 * whose copy shows through (whiteouts and opaque dirs applied) are stacked.
 * S is resolved inside X's root (its links followed there), as BuildKit does.
 */
function sourceInLayers(ctx: MountContext, from: string, layerDirs: readonly string[], source: string): string[] {
  const view = stackView(layerDirs);
  const path = view.resolve(posix.resolve('/', source), { followFinal: true });
  if (path === '/') return [...layerDirs].reverse();
  const entry = view.entry(path);
  if (!entry) fail(ctx, 'E_MOUNT_SOURCE', `mount source ${source} not found in ${from}`);
  return entry.stat.isDirectory() ? view.mergedDirs(path) : [entry.hostPath];
}

/**
 * The host file to bind for a secret. A value from the environment goes to
 * a 0400 file in the store's tmp (named with our pid, so a later start
 * removes it if we are killed), removed when the step's mounts are released.
 */
function secretFile(src: SecretSource, tmpRoot: string, temps: string[]): string {
  if (src.kind === 'file') return src.path;
  const path = join(tmpRoot, tempName('secret'));
  temps.push(path);
  writeFileSync(path, src.value, { mode: 0o400, flag: 'wx' });
  return path;
}

export async function prepareMounts(mounts: readonly RunMount[], ctx: MountContext): Promise<PreparedMounts> {
  const binds: BindSpec[] = [];
  const env: string[] = [];
  const targets: string[] = [];
  const held: Held = { locks: [], temps: [] };
  const { locks, temps } = held;
  const tmpRoot = join(ctx.root, 'tmp');
  mkdirSync(tmpRoot, { recursive: true });
  const release = () => {
    for (const fd of locks) native().unlockFile(fd);
    for (const t of temps) rmSync(t, { recursive: true, force: true });
  };
  try {
    for (const m of mounts) {
      const target = m.target === null ? null : posix.resolve(ctx.workdir, m.target);
      switch (m.type) {
        case 'cache': {
          if (!target) fail(ctx, 'E_MOUNT_TARGET', 'a cache mount needs target=');
          const fromLayers = m.from === null ? null : await ctx.layersOf(m.from);
          const seed = async (dest: string) => { await copyMountSource(m, copySource(ctx, fromLayers), dest, null); };
          const dir = await cacheDir(m, target, { root: ctx.root, fromLayers, seed, owner: m.chownToUser ? ctx.owner() : null }, held);
          binds.push({ source: dir, target, readonly: m.readonly, isFile: false });
          targets.push(target);
          break;
        }
        case 'tmpfs': {
          if (!target) fail(ctx, 'E_MOUNT_TARGET', 'a tmpfs mount needs target=');
          binds.push({ source: 'tmpfs', target, readonly: false, isFile: false, fstype: 'tmpfs', data: tmpfsOptions(m, ctx), ...(m.copyUp ? { copyUp: copyUpRoot(m, ctx, target) } : {}) });
          targets.push(target);
          break;
        }
        case 'bind': {
          if (!target) fail(ctx, 'E_MOUNT_TARGET', 'a bind mount needs target=');
          if (m.chownToUser) {
            // buildah's U: a copy owned by the step's user (the context and layers stay as they are).
            const copy = makeTempDir(tmpRoot, 'bindown');
            temps.push(copy);
            const source = await copyMountSource(m, copySource(ctx, m.from === null ? null : await ctx.layersOf(m.from)), copy, ctx.owner());
            binds.push({ source, target, readonly: m.readonly, isFile: source !== copy });
            targets.push(target);
            break;
          }
          const lowers: string[] = [];
          if (m.from === null) {
            lowers.push(contextPath(ctx, m.source ?? '/'));
          } else {
            lowers.push(...sourceInLayers(ctx, m.from, await ctx.layersOf(m.from), m.source ?? '/'));
          }
          checkStackDepth(lowers.length, `the bind mount from ${m.from}`, { file: ctx.file, line: ctx.line });
          const isFile = lowers.length === 1 && !statSync(lowers[0] as string).isDirectory();
          if (isFile || (m.readonly && lowers.length === 1)) {
            binds.push({ source: lowers[0] as string, target, readonly: m.readonly, isFile });
          } else if (m.readonly) {
            binds.push({ source: 'overlay', target, readonly: true, isFile: false, lowerDirs: lowers });
          } else {
            // rw: writes go to a scratch upper that is thrown away after the step.
            const scratch = makeTempDir(tmpRoot, 'bindrw');
            temps.push(scratch);
            mkdirSync(join(scratch, 'u'));
            mkdirSync(join(scratch, 'w'));
            binds.push({ source: 'overlay', target, readonly: false, isFile: false, lowerDirs: lowers, upperDir: join(scratch, 'u'), workDir: join(scratch, 'w') });
          }
          targets.push(target);
          break;
        }
        case 'secret': {
          const id = m.id ?? (m.target ? posix.basename(m.target) : null);
          if (!id) fail(ctx, 'E_MOUNT_SECRET', 'a secret mount needs id= or target=');
          const src = ctx.secrets.get(id);
          if (src === undefined) {
            if (m.required) fail(ctx, 'E_SECRET_MISSING', `secret ${id} is required but was not given (use --secret id=${id},src=FILE)`);
            break;
          }
          if (m.env !== null) {
            env.push(`${m.env}=${src.kind === 'value' ? src.value.toString('utf8') : readFileSync(src.path, 'utf8')}`);
            if (m.target === null) break;
          }
          const t = target ?? `/run/secrets/${id}`;
          binds.push({ source: secretFile(src, tmpRoot, temps), target: t, readonly: true, isFile: true });
          targets.push(t);
          break;
        }
        default:
          fail(ctx, 'E_MOUNT_TYPE', `RUN --mount=type=${m.type} is not supported`);
      }
    }
  } catch (err) {
    release();
    throw err;
  }
  return { binds, env, targets, release };
}

function copySource(ctx: MountContext, layers: string[] | null): MountCopySource {
  return { file: ctx.file, line: ctx.line, contextDir: ctx.contextDir, layers, ...(ctx.ignore ? { ignore: ctx.ignore } : {}) };
}

/**
 * The root of a tmpcopyup mount has the target's mode, as buildah's gives
 * it (runc chmods the tmpfs to the target's mode but leaves it root's),
 * and is root's unless U gives it to the step user. A target the image
 * lacks gets a plain tmpfs's root: world-writable and sticky.
 */
function copyUpRoot(m: RunMount, ctx: MountContext, target: string): { mode: number; uid: number; gid: number } {
  const view = stackView(ctx.layerDirs);
  const st = view.lstat(view.resolve(target, { followFinal: true }));
  const mode = st?.isDirectory() ? st.mode & 0o7777 : 0o1777;
  const owner = m.chownToUser ? ctx.owner() : { uid: 0, gid: 0 };
  return { mode, uid: owner.uid, gid: owner.gid };
}

/** tmpfs options: world-writable as BuildKit makes it, or the step user's with U; size= if given. */
function tmpfsOptions(m: RunMount, ctx: MountContext): string {
  const owner = m.chownToUser ? ctx.owner() : null;
  const opts = [owner ? 'mode=0755' : 'mode=1777'];
  if (owner) opts.push(`uid=${owner.uid}`, `gid=${owner.gid}`);
  if (m.size !== null) opts.push(`size=${m.size}`);
  return opts.join(',');
}
