// A directory's entries with their lstat in one native call (the crate's
// lstatDir), for the walk behind COPY's cache key: every cached build walks
// the whole context, and a Node lstat per entry (a binding call and a
// Stats object each) was most of a no-op rebuild's cost on a large one.
// Records hold the same numbers a Node Stats would (dev and ino as
// doubles, times as sec * 1e3 + nsec / 1e6), so the digest memo's keys
// (file-digests.ts) are the same whichever way an entry was read.
import { constants } from 'node:fs';
import { native } from '../../native/index.js';
import type { EntryStat } from './types.js';

/** Numbers per entry in the crate's records (crates/native/src/dirstat.rs FIELDS). */
const FIELDS = 10;

/** One listed entry's lstat, answering what EntryStat asks of a Stats. */
export class ListedStat implements EntryStat {
  readonly mode: number;
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly dev: number;
  readonly ino: number;
  readonly rdev: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;

  constructor(rec: Float64Array, i: number) {
    const o = i * FIELDS;
    this.mode = rec[o] as number;
    this.nlink = rec[o + 1] as number;
    this.uid = rec[o + 2] as number;
    this.gid = rec[o + 3] as number;
    this.size = rec[o + 4] as number;
    this.dev = rec[o + 5] as number;
    this.ino = rec[o + 6] as number;
    this.rdev = rec[o + 7] as number;
    this.mtimeMs = rec[o + 8] as number;
    this.ctimeMs = rec[o + 9] as number;
  }

  private type(): number {
    return this.mode & constants.S_IFMT;
  }

  isDirectory(): boolean { return this.type() === constants.S_IFDIR; }
  isFile(): boolean { return this.type() === constants.S_IFREG; }
  isSymbolicLink(): boolean { return this.type() === constants.S_IFLNK; }
  isFIFO(): boolean { return this.type() === constants.S_IFIFO; }
  isCharacterDevice(): boolean { return this.type() === constants.S_IFCHR; }
  isBlockDevice(): boolean { return this.type() === constants.S_IFBLK; }
}

/** Decodes the crate's listing: names sorted as `readdirSync(...).sort()` sorts them. */
export function decodeListing(names: string, stats: Buffer): Array<[string, EntryStat]> {
  const list = names === '' ? [] : names.slice(0, -1).split('\0');
  if (stats.length !== list.length * FIELDS * 8) throw new Error(`lstatDir: ${list.length} names but ${stats.length} record bytes`);
  // A Float64Array view needs 8-byte alignment; copy the (rare) unaligned buffer.
  const aligned = stats.byteOffset % 8 === 0 ? stats : Buffer.from(stats);
  const rec = new Float64Array(aligned.buffer, aligned.byteOffset, aligned.length / 8);
  const out = list.map((name, i): [string, EntryStat] => [name, new ListedStat(rec, i)]);
  // Default sort order (UTF-16 code units), as readdir's callers use.
  return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** `hostDir`'s entries with their lstat, or undefined when the crate cannot list it (the caller falls back). */
export function listDir(hostDir: string): Array<[string, EntryStat]> | undefined {
  const api = native();
  // A .node built before lstatDir existed (a checkout not yet rebuilt with `npm run build:native`): the walk still works.
  if (typeof api.lstatDir !== 'function') return undefined;
  const l = api.lstatDir(hostDir);
  return l === null ? undefined : decodeListing(l.names, l.stats);
}
