// A memo of file content digests for the COPY cache key, keyed by what
// changes whenever content does: device, inode, size, mtime and ctime
// (ctime cannot be set back by users, so restoring an mtime after an edit
// still invalidates). Rebuilding an unchanged context then hashes nothing:
// this is how git's index and BuildKit's content cache avoid rereading
// files. The memo is only a cache-key input; layers never come from it.
// A no-op rebuild reads it once and writes nothing: it is rewritten only
// when this build learnt a digest or stopped using a remembered one.
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, statSync, type Stats, unlinkSync, writeFileSync } from 'node:fs';
import { nodeCrypto } from '../../node-crypto.js';
import { sha256Hex } from '../../sha256.js';
import { dirname, join, resolve } from 'node:path';
import { pidAlive } from '../../pid-alive.js';

/**
 * Where a context's memo persists: one file per context directory under
 * ROOT/cache/file-digests/, so that builds of two contexts in one store do
 * not each drop the other's entries (a memo keeps only what its last build
 * used), and a small context never reads a big one's memo.
 */
export function memoPath(root: string, contextDir: string): string {
  const id = sha256Hex(resolve(contextDir)).slice(0, 32);
  return join(memoDir(root), `${id}.memo`);
}

function memoDir(root: string): string {
  return join(root, 'cache', 'file-digests');
}

/**
 * A memo's first line names its context directory (JSON, UTF-8), so that
 * prune can tell a memo of a deleted context from a live one: the file name
 * is only a hash of the path.
 */
const HEADER = '# context ';

function contextOf(memoFile: string): string | undefined {
  const buf = Buffer.alloc(8192);
  const fd = openSync(memoFile, 'r');
  let n: number;
  try {
    n = readSync(fd, buf, 0, buf.length, 0);
  } finally {
    closeSync(fd);
  }
  const line = buf.toString('utf8', 0, n).split('\n', 1)[0] ?? '';
  if (!line.startsWith(HEADER)) return undefined;
  try {
    const dir: unknown = JSON.parse(line.slice(HEADER.length));
    return typeof dir === 'string' ? dir : undefined;
  } catch {
    return undefined;
  }
}

/**
 * For `tsbuild prune`: removes the memos of context directories that no
 * longer exist (and memos without a header, written before it existed: a
 * cache, the next build of that context hashes again) and the temp files
 * of saves that crashed. Returns the bytes freed.
 */
export function pruneDigestMemos(root: string): number {
  const dir = memoDir(root);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0; // no memo yet
  }
  let freed = 0;
  for (const name of names) {
    const path = join(dir, name);
    const tmp = /\.memo\.(\d+)\.tmp$/.exec(name);
    let stale: boolean;
    try {
      if (tmp) stale = !pidAlive(Number(tmp[1]));
      else if (name.endsWith('.memo')) {
        const context = contextOf(path);
        stale = context === undefined || !isDirectory(context);
      } else continue;
      if (!stale) continue;
      const size = statSync(path).size;
      unlinkSync(path);
      freed += size;
    } catch { /* gone meanwhile: nothing to free */ }
  }
  return freed;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

const CHUNK = 1 << 20;
let chunk: Buffer | undefined;

/** sha256 hex of a file's bytes, read in 1 MiB chunks. */
export function sha256File(hostPath: string): string {
  const hash = nodeCrypto().createHash('sha256');
  chunk ??= Buffer.allocUnsafe(CHUNK);
  const fd = openSync(hostPath, 'r');
  try {
    for (;;) {
      const n = readSync(fd, chunk, 0, CHUNK, null);
      if (n === 0) break;
      hash.update(chunk.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

export class FileDigests {
  private known: Map<string, string> | undefined;
  private readonly used = new Map<string, string>();
  /** Entries of `used` that the persisted memo did not hold as they are. */
  private learnt = 0;

  /**
   * `path`: where the memo persists (memoPath; a line `<key> <hex digest>` per entry);
   * none keeps it in memory. `contextDir`: written in the memo's header for prune. `racyMs`: a file changed less than this long
   * ago is hashed every time and never remembered, because the kernel's
   * timestamps are coarse (jiffies): an edit within the same tick would
   * leave mtime and ctime as they were (git's "racy" entries).
   */
  constructor(private readonly path?: string, private readonly racyMs = 2000, private readonly contextDir?: string) {}

  /** The persisted memo, read on first use (a build that copies nothing never reads it). */
  private load(): Map<string, string> {
    if (this.known) return this.known;
    this.known = new Map();
    if (!this.path) return this.known;
    let text: string;
    try {
      text = readFileSync(this.path, 'latin1');
    } catch {
      return this.known; // absent: start empty
    }
    // Lines rather than JSON: a 200k-file context's memo loads in half the time.
    // A torn file (a crash mid-rename cannot make one, but a full disk may) only loses entries:
    // a line without a whole digest is skipped, and a wrong key is never looked up.
    // The header line (HEADER, starting with #) is skipped.
    for (let i = 0; i < text.length;) {
      let nl = text.indexOf('\n', i);
      if (nl < 0) nl = text.length;
      const sp = nl - 65;
      if (text.charCodeAt(i) !== 35 /* # */ && sp > i && text.charCodeAt(sp) === 32) this.known.set(text.slice(i, sp), text.slice(sp + 1, nl));
      i = nl + 1;
    }
    return this.known;
  }

  /** The content digest of the regular file at `hostPath`, whose lstat is `st`. */
  digest(hostPath: string, st: Pick<Stats, 'dev' | 'ino' | 'size' | 'mtimeMs' | 'ctimeMs'>): string {
    const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
    const racy = Date.now() - Math.max(st.mtimeMs, st.ctimeMs) < this.racyMs;
    if (racy) return sha256File(hostPath);
    const seen = this.used.get(key);
    if (seen !== undefined) return seen;
    let d = this.load().get(key);
    if (d === undefined) {
      d = sha256File(hostPath);
      this.learnt++;
    }
    this.used.set(key, d);
    return d;
  }

  /**
   * Persists the entries this build used (older ones are dropped),
   * atomically; nothing is written when that is what the file holds already
   * (every entry came from it and none of its entries went unused).
   */
  save(): void {
    if (!this.path || this.used.size === 0) return;
    if (this.learnt === 0 && this.used.size === this.known?.size) return;
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    let text = '';
    for (const [k, v] of this.used) text += `${k} ${v}\n`;
    const header = this.contextDir === undefined ? '' : `${HEADER}${JSON.stringify(resolve(this.contextDir))}\n`;
    writeFileSync(tmp, Buffer.concat([Buffer.from(header, 'utf8'), Buffer.from(text, 'latin1')]));
    renameSync(tmp, this.path);
  }
}
