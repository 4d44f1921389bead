// A memo of file content digests for the COPY cache key, keyed by what
// changes whenever content does: device, inode, size, mtime and ctime
// (ctime cannot be set back by users, so restoring an mtime after an edit
// still invalidates). Rebuilding an unchanged context then hashes nothing:
// this is how git's index and BuildKit's content cache avoid rereading
// files. The memo is only a cache-key input; layers never come from it.
import { closeSync, mkdirSync, openSync, readFileSync, readSync, renameSync, type Stats, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname } from 'node:path';

const CHUNK = 1 << 20;
let chunk: Buffer | undefined;

/** sha256 hex of a file's bytes, read in 1 MiB chunks. */
export function sha256File(hostPath: string): string {
  const hash = createHash('sha256');
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
  private readonly known = new Map<string, string>();
  private readonly used = new Map<string, string>();

  /**
   * `path`: where the memo persists (e.g. ROOT/cache/file-digests.json);
   * none keeps it in memory. `racyMs`: a file changed less than this long
   * ago is hashed every time and never remembered, because the kernel's
   * timestamps are coarse (jiffies): an edit within the same tick would
   * leave mtime and ctime as they were (git's "racy" entries).
   */
  constructor(private readonly path?: string, private readonly racyMs = 2000) {
    if (!path) return;
    try {
      for (const [k, v] of Object.entries(JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>)) this.known.set(k, v);
    } catch { /* absent or torn: start empty */ }
  }

  /** The content digest of the regular file at `hostPath`, whose lstat is `st`. */
  digest(hostPath: string, st: Stats): string {
    const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
    const racy = Date.now() - Math.max(st.mtimeMs, st.ctimeMs) < this.racyMs;
    if (racy) return sha256File(hostPath);
    let d = this.used.get(key) ?? this.known.get(key);
    if (d === undefined) d = sha256File(hostPath);
    this.used.set(key, d);
    return d;
  }

  /** Persists the entries this build used (older ones are dropped), atomically. */
  save(): void {
    if (!this.path || this.used.size === 0) return;
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(Object.fromEntries(this.used)));
    renameSync(tmp, this.path);
  }
}
