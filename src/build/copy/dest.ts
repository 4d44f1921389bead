// Where a COPY/ADD puts its sources: docker's destination rules, resolved
// against the target stage's merged layers.
//
// - A relative destination is relative to WORKDIR.
// - A destination ending in `/` (or `.`), or a --parents copy, is a
//   directory: files go inside it by name, directories' contents into it.
// - Otherwise, with a single source: if the destination already is a
//   directory (following links inside the root) the source goes inside it;
//   a directory or archive source becomes it; a file is written as it
//   (replacing a link there rather than writing through it).
// - Several sources (after wildcard expansion) need the trailing `/`, as
//   docker requires.
// Existing parents are followed through symlinks inside the root, so
// `COPY x /usr/local/bin/` lands where the image's link points.
import { posix } from 'node:path';
import { joinComponents, type LayerView, pathComponents } from '../../image/layer-view.js';
import { type CopyStep, type SourceItem, stepError, stepName } from './types.js';

export type Placement = { mode: 'dir'; dir: string } | { mode: 'file'; path: string };

/** The destination as an absolute path, and whether it was written as a directory. */
export function destinationOf(step: CopyStep): { abs: string; dirSyntax: boolean } {
  const ins = step.instruction;
  const raw = ins.dest;
  const base = step.workdir === '' ? '/' : step.workdir;
  const abs = posix.normalize(raw.startsWith('/') ? raw : posix.join(base.startsWith('/') ? base : `/${base}`, raw));
  const dirSyntax = raw.endsWith('/') || /(^|\/)\.\.?$/.test(raw) || (ins.kind === 'copy' && ins.parents);
  return { abs, dirSyntax };
}

/** Every existing component of `path` in the image must be a directory. */
function checkParents(step: CopyStep, view: LayerView, path: string): void {
  const parts = pathComponents(path);
  for (let i = 1; i <= parts.length; i++) {
    const p = joinComponents(parts.slice(0, i));
    const st = view.lstat(p);
    if (st && !st.isDirectory()) {
      throw stepError(step, 'E_DEST_NOT_DIR', `${stepName(step)} destination ${step.instruction.dest}: ${p} is not a directory in the image`);
    }
  }
}

export function planPlacement(step: CopyStep, view: LayerView, items: SourceItem[]): Placement {
  const { abs, dirSyntax } = destinationOf(step);
  const name = stepName(step);
  if (items.length > 1 && !dirSyntax) {
    throw stepError(step, 'E_DEST_NOT_DIR', `When using ${name} with more than one source file, the destination must be a directory and end with a /`);
  }
  const followed = view.resolve(abs, { followFinal: true });
  if (dirSyntax) {
    checkParents(step, view, followed);
    return { mode: 'dir', dir: followed };
  }
  if (view.lstat(followed)?.isDirectory()) {
    checkParents(step, view, followed);
    return { mode: 'dir', dir: followed };
  }
  // The final component is not followed: a link there is replaced, not written through.
  const path = view.resolve(abs, { followFinal: false });
  if (path === '/') return { mode: 'dir', dir: '/' };
  checkParents(step, view, posix.dirname(path));
  const item = items[0] as SourceItem;
  const unpackUrl = item.kind === 'url' && step.instruction.kind === 'add' && step.instruction.unpack === true;
  const isDir = item.kind === 'archive' || unpackUrl || (item.kind === 'tree' && item.stat.isDirectory());
  return isDir ? { mode: 'dir', dir: path } : { mode: 'file', path };
}
