// Reading a file from an image's layer stack without mounting it: the
// topmost layer that has the path wins, and an overlay whiteout (a 0/0
// character device) or an opaque directory above hides lower copies. Used
// to resolve users and groups from /etc/passwd before the container starts.
import { lstatSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';

/**
 * Returns the content of `path` (absolute, inside the image) as the merged
 * rootfs would show it, or undefined. `layerDirs` are bottom first.
 */
export function readImageFile(layerDirs: readonly string[], path: string): string | undefined {
  const rel = posix.normalize(path).replace(/^\/+/, '');
  for (let i = layerDirs.length - 1; i >= 0; i--) {
    const full = join(layerDirs[i] as string, rel);
    let st;
    try {
      st = lstatSync(full);
    } catch {
      continue;
    }
    if (st.isCharacterDevice() && st.rdev === 0) return undefined; // whiteout
    if (st.isSymbolicLink()) return undefined; // not followed: a link could point out of the image
    if (!st.isFile()) return undefined;
    return readFileSync(full, 'utf8');
  }
  return undefined;
}

/** True if `path` exists in the merged view of the layers (a whiteout or opaque parent hides lower copies). */
export function existsInImage(layerDirs: readonly string[], path: string): boolean {
  const rel = posix.normalize(path).replace(/^\/+/, '');
  if (rel === '' || rel === '.') return true;
  for (let i = layerDirs.length - 1; i >= 0; i--) {
    try {
      const st = lstatSync(join(layerDirs[i] as string, rel));
      return !(st.isCharacterDevice() && st.rdev === 0);
    } catch {
      continue;
    }
  }
  return false;
}
