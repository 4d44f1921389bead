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
// - Several sources (after wildcard expansion) without the trailing `/`
//   are placed one after another by the single-source rule, each seeing
//   what the ones before it made, as BuildKit (dockerd 20.10) does: files
//   onto a new path each replace the last (`COPY *.txt /t` leaves the last
//   match as the file /t), and once a directory source has made the path a
//   directory, later ones go inside it. buildah 1.28 makes /t a directory
//   holding every match instead; the classic docker builder refused. We
//   follow BuildKit.
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

/** Does the item become a directory at a destination path (rather than a file)? */
function makesDir(step: CopyStep, item: SourceItem): boolean {
  const unpackUrl = item.kind === 'url' && step.instruction.kind === 'add' && step.instruction.unpack === true;
  return item.kind === 'archive' || unpackUrl || (item.kind === 'tree' && item.stat.isDirectory());
}

/** Where each item goes, in order (one placement per item). */
export function planPlacements(step: CopyStep, view: LayerView, items: SourceItem[]): Placement[] {
  if (items.length === 0) return [];
  const { abs, dirSyntax } = destinationOf(step);
  const followed = view.resolve(abs, { followFinal: true });
  if (dirSyntax || view.lstat(followed)?.isDirectory()) {
    checkParents(step, view, followed);
    return items.map(() => ({ mode: 'dir', dir: followed }));
  }
  // The final component is not followed: a link there is replaced, not written through.
  const path = view.resolve(abs, { followFinal: false });
  if (path === '/') return items.map(() => ({ mode: 'dir', dir: '/' }));
  checkParents(step, view, posix.dirname(path));
  let isDir = false;
  return items.map((item): Placement => {
    isDir ||= makesDir(step, item);
    return isDir ? { mode: 'dir', dir: path } : { mode: 'file', path };
  });
}
