// The shapes the COPY/ADD engine shares between its modules, and the one
// way it raises errors: every user-facing failure names the instruction's
// line in the Containerfile.
import type { FileDigests } from './file-digests.js';
import type { Stats } from 'node:fs';
import { TsbuildError, type ErrorCode } from '../../errors.js';
import { NativeError } from '../../native/index.js';
import type { AddInstruction, CopyInstruction, HeredocFile } from '../instructions/types.js';
import type { IgnoreMatcher } from '../context/ignore.js';
import type { ArchiveCompression } from './archive.js';

/** Where the sources come from: the build context, or a stage's or image's layers (`--from`). */
export type CopySource =
  /** `none`: the build has no context (its Containerfile came from stdin), so `dir` is empty. */
  | { kind: 'context'; dir: string; none?: boolean }
  | { kind: 'layers'; layerDirs: string[] };

export interface CopyStep {
  /** Already variable-expanded by the front end. */
  instruction: CopyInstruction | AddInstruction;
  source: CopySource;
  /** The stage's current layer dirs, bottom first (destination resolution, --chown names). */
  targetLayers: string[];
  /** The stage's WORKDIR, for relative destinations. */
  workdir: string;
  /** The Containerfile's name as errors should show it. */
  containerfile: string;
  /** For context sources: .containerignore/.dockerignore rules. */
  ignore?: IgnoreMatcher;
  /** Where ADD may download URLs to (the store's tmp/); defaults to the OS temp dir. */
  tmpDir?: string;
  /** A build-wide memo of file content digests (see file-digests.ts); defaults to a fresh one. */
  fileDigests?: FileDigests;
  /** SOURCE_DATE_EPOCH (seconds): the layer keeps min(mtime, epoch), so the cache key hashes that. */
  clampMtime?: number;
}

/** A TsbuildError at the step's instruction. */
export function stepError(step: CopyStep, code: ErrorCode, message: string, cause?: unknown): TsbuildError {
  return new TsbuildError(code, message, {
    location: { file: step.containerfile, line: step.instruction.line },
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Rethrow with the step's location unless the error already has one. */
export function atStep(step: CopyStep, err: unknown): TsbuildError {
  if (err instanceof TsbuildError && !(err instanceof NativeError)) {
    if (err.location) return err;
    return new TsbuildError(err.code, err.message, { location: { file: step.containerfile, line: step.instruction.line }, exitCode: err.exitCode, cause: err });
  }
  // A native failure (a RootedDir mknod) reads like a host one, with the native code.
  const e = err as NodeJS.ErrnoException;
  return stepError(step, err instanceof NativeError ? err.code : 'E_COPY_FAILED', `${step.instruction.kind.toUpperCase()} failed: ${e?.message ?? String(err)}`, err);
}

/** The instruction's name as users wrote it, for messages. */
export function stepName(step: CopyStep): string {
  return step.instruction.kind === 'add' ? 'ADD' : 'COPY';
}

/**
 * A read-only tree sources are taken from: the context directory or a
 * merged layer stack. Paths are canonical absolute paths inside the tree.
 */
export interface SourceTree {
  readonly kind: 'context' | 'layers';
  /** Follow symlinks in `path` inside the tree (context: escaping is an error). */
  resolve(path: string, followFinal: boolean): string;
  lstat(path: string): Stats | undefined;
  /** Visible names, sorted. */
  readdir(path: string): string[];
  /**
   * Names sorted as readdir's, each with its lstat, in one call where the
   * tree can (undefined: use readdir and lstat). Entries removed meanwhile
   * are left out, as lstat's undefined drops them.
   */
  list?(path: string): Array<[string, EntryStat]> | undefined;
  readlink(path: string): string;
  /** The host file holding `path`'s data. */
  hostPath(path: string): string;
  /** Context ignore rules: is this path hidden from the build? */
  ignored(path: string): boolean;
  /** An ignored directory may still hold included paths (an exception rule). */
  mayIncludeBelow(path: string): boolean;
  /** Is a named path missing from the tree as the build sees it (it, or a parent the walk skips, ignored)? */
  hidden(path: string, st: Stats): boolean;
  /** The ignore file in force, as messages name it. */
  readonly ignoreFile: string | undefined;
}

/** One selected source, before it is placed under the destination. */
export type SourceItem =
  | {
    kind: 'tree';
    /** Canonical path in the source tree (links in the named path followed). */
    path: string;
    stat: Stats;
    /** The name it gets in a destination directory (the last component as written). */
    name: string;
    /** With --parents: the path kept under the destination. */
    keep: string | null;
    /** The matched path's components as written (`..` applied), for --parents' directories. */
    lex: string[];
    /** The source as the user wrote it, for messages. */
    written: string;
  }
  | { kind: 'inline'; heredoc: HeredocFile; name: string }
  | { kind: 'archive'; path: string; hostPath: string; stat: Stats; written: string; compression: ArchiveCompression }
  | { kind: 'url'; url: string; name: string };

/**
 * The lstat fields the walk and the cache key read: a Node Stats has them,
 * and so does an entry listed in one native call (listing.ts).
 */
export type EntryStat = Pick<Stats, 'dev' | 'ino' | 'mode' | 'nlink' | 'uid' | 'gid' | 'rdev' | 'size' | 'mtimeMs' | 'ctimeMs'
  | 'isDirectory' | 'isFile' | 'isSymbolicLink' | 'isFIFO' | 'isCharacterDevice' | 'isBlockDevice'>;

/** What one entry of a copied tree is. */
export type EntryKind = 'dir' | 'file' | 'symlink' | 'fifo' | 'char' | 'block';

export function entryKind(st: EntryStat): EntryKind | undefined {
  if (st.isDirectory()) return 'dir';
  if (st.isFile()) return 'file';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  return undefined; // sockets: nothing to copy
}
