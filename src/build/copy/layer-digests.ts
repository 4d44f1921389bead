// A memo of `COPY --from` cache-key digests, one small file per key under
// ROOT/cache/copy-from-digests/.
//
// Why: a --from source is another stage's or image's layer stack, and the
// digest walks every entry of it that the step selects (a node_modules of
// thousands of files, through the layer view: an lstat per entry and
// layer). A fully cached build of a Node service spent most of its own
// work there, on every call. Store layer directories are content-addressed
// and never change once published, so the digest of one selection over one
// stack is a function of the stack's directories and the step's inputs: it
// is computed once and read back after that.
//
// The key covers everything copySourceDigests reads besides the layers: the
// whole (expanded) instruction, the WORKDIR and SOURCE_DATE_EPOCH. A memo
// is a cache, never synced: a torn or unreadable file is a miss, and
// `tsbuild prune` removes them all (recomputing one costs one walk).
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Hex } from '../../sha256.js';
import type { CopyStep } from './types.js';

export interface CopyDigests {
  exact: string;
  retime?: string;
}

function memoDir(root: string): string {
  return join(root, 'cache', 'copy-from-digests');
}

/** The memo file of a --from step, or undefined for a context source (see file-digests.ts for those). */
export function layerDigestMemo(root: string, step: CopyStep): string | undefined {
  if (step.source.kind !== 'layers') return undefined;
  const key = sha256Hex(JSON.stringify(['copy-from-v1', step.source.layerDirs, step.instruction, step.workdir, step.clampMtime ?? null]));
  return join(memoDir(root), key);
}

export function readLayerDigests(file: string): CopyDigests | undefined {
  try {
    const d = JSON.parse(readFileSync(file, 'utf8')) as CopyDigests;
    return typeof d.exact === 'string' && d.exact.startsWith('sha256:') ? d : undefined;
  } catch {
    return undefined; // none yet, or torn
  }
}

export function writeLayerDigests(file: string, d: CopyDigests): void {
  try {
    mkdirSync(join(file, '..'), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(d));
    renameSync(tmp, file);
  } catch {
    // a cache: the next build computes it again
  }
}

/** For `tsbuild prune`: removes every memo; returns the bytes freed. */
export function pruneLayerDigestMemos(root: string): number {
  const dir = memoDir(root);
  let bytes = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    try {
      bytes += statSync(join(dir, name)).size;
    } catch {
      // gone meanwhile
    }
  }
  rmSync(dir, { recursive: true, force: true });
  return bytes;
}
