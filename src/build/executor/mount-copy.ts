// Copies of a RUN --mount's source, for the mounts that cannot show the
// source as it is: a cache seeded `from=` a stage or image, and a bind
// with buildah's `U` (owned by the step's user: the context and the
// store's layers must never be chowned in place, so the mount gets a
// throwaway copy). The copy is COPY's own engine (`COPY --from=X SRC /`,
// or from the context with its ignore rules), so it resolves links inside
// the source's root, never reads outside it, and keeps owners and modes.
import { chmodSync, lchownSync, lstatSync, readdirSync } from 'node:fs';
import { join, posix } from 'node:path';
import { TsbuildError } from '../../errors.js';
import { applyCopy, type CopyStep, type IgnoreMatcher } from '../copy/index.js';
import { sourceTree } from '../copy/trees.js';
import type { CopyInstruction, RunMount } from '../index.js';

export interface Owner { uid: number; gid: number }

export interface MountCopySource {
  file: string;
  line: number;
  contextDir: string;
  ignore?: IgnoreMatcher;
  /** Layer dirs (bottom first) of the stage or image `from=` names. */
  layers: string[] | null;
}

/**
 * Fills the empty dir `dest` with the mount's source (`source=` of `from=`,
 * or of the context), owned by `owner` when given. Returns the host path
 * to mount: `dest` for a directory source, the copied file for a file.
 */
export async function copyMountSource(m: RunMount, src: MountCopySource, dest: string, owner: Owner | null): Promise<string> {
  const source = posix.resolve('/', m.source ?? '/');
  const instruction: CopyInstruction = {
    kind: 'copy', line: src.line, endLine: src.line, source: `RUN --mount=${m.spec}`,
    sources: [source], inline: [], dest: '/', json: false, chown: owner ? `${owner.uid}:${owner.gid}` : null, chmod: null,
    link: false, exclude: [], from: m.from, parents: false,
  };
  const step: CopyStep = {
    instruction,
    source: src.layers ? { kind: 'layers', layerDirs: src.layers } : { kind: 'context', dir: src.contextDir },
    targetLayers: [],
    workdir: '/',
    containerfile: src.file,
    ...(src.ignore && !src.layers ? { ignore: src.ignore } : {}),
  };
  try {
    await applyCopy(step, dest);
  } catch (err) {
    // COPY's messages name the path again; once is enough.
    const why = err instanceof TsbuildError ? err.message.replace(/^COPY\s+/, '').replace(`${JSON.stringify(source)}: `, '') : String(err);
    throw new TsbuildError('E_MOUNT_SOURCE', `mount source ${source}${m.from ? ` of ${m.from}` : ''}: ${why}`, { location: { file: src.file, line: src.line }, cause: err });
  }
  // A directory's content fills dest, which takes the directory's mode and
  // owner (COPY sets neither on its destination); a file lands in it by name.
  const tree = sourceTree(step);
  const st = tree.lstat(tree.resolve(source, true));
  if (st && !st.isDirectory()) return join(dest, posix.basename(source));
  chmodSync(dest, st ? st.mode & 0o7777 : 0o755);
  const own = owner ?? (st && src.layers ? { uid: st.uid, gid: st.gid } : { uid: 0, gid: 0 });
  lchownSync(dest, own.uid, own.gid);
  return dest;
}

/** Gives `dir` and everything below it to `owner`; never follows a link. */
export function chownTree(dir: string, owner: Owner): void {
  const st = lstatSync(dir);
  if (st.uid !== owner.uid || st.gid !== owner.gid) lchownSync(dir, owner.uid, owner.gid);
  if (!st.isDirectory()) return;
  for (const name of readdirSync(dir)) chownTree(join(dir, name), owner);
}
