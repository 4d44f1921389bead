// The committer time of HEAD of the git work tree a build context lies in:
// tsbuild's default SOURCE_DATE_EPOCH (reproducible-builds.org suggests
// `git log -1 --pretty=%ct`, which is this value). Read from .git directly
// (HEAD → ref → loose ref or packed-refs → commit object, loose or in a
// pack, deltas included), so no git binary is needed; `git log` via
// execFile is only the fallback for layouts this reader does not know
// (reftable, sha256 object ids, alternates), and no git at all means no
// default epoch, never an error.
//
// "In a git work tree" means the context dir or one of its parents holds a
// `.git` (a directory, or a file `gitdir: …` as in linked worktrees and
// submodules), as `git rev-parse` decides it: a CI job building `app/` of a
// monorepo gets the monorepo's HEAD time.
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, resolve } from 'node:path';

// Loaded on first use: every build imports this module, and a context outside
// git needs neither zlib nor child_process (with net and stream, ~8 ms of start-up).
const load = createRequire(import.meta.url);
const inflateSync = (buf: Buffer): Buffer => (load('node:zlib') as typeof import('node:zlib')).inflateSync(buf);

/** The `.git` dir (and the common dir shared by linked worktrees) for `start`, or undefined. */
export function findGitDir(start: string): { gitDir: string; commonDir: string; workTree: string } | undefined {
  for (let d = resolve(start); ; d = dirname(d)) {
    const dotGit = join(d, '.git');
    let gitDir: string | undefined;
    try {
      const st = statSync(dotGit);
      if (st.isDirectory()) gitDir = dotGit;
      else if (st.isFile()) {
        const m = /^gitdir:\s*(.+?)\s*$/m.exec(readFileSync(dotGit, 'utf8'));
        if (m?.[1]) gitDir = isAbsolute(m[1]) ? m[1] : resolve(d, m[1]);
      }
    } catch { /* no .git here */ }
    if (gitDir && existsSync(join(gitDir, 'HEAD'))) {
      let commonDir = gitDir;
      try { commonDir = resolve(gitDir, readFileSync(join(gitDir, 'commondir'), 'utf8').trim()); } catch { /* not a linked worktree */ }
      return { gitDir, commonDir, workTree: d };
    }
    if (dirname(d) === d) return undefined;
  }
}

/** The object id HEAD names (following symbolic refs), or undefined (an unborn branch). */
export function resolveHead(gitDir: string, commonDir: string): string | undefined {
  let content = readFileSync(join(gitDir, 'HEAD'), 'utf8').trim();
  for (let depth = 0; depth < 10; depth++) {
    const m = /^ref:\s*(\S+)$/.exec(content);
    if (!m) return /^[0-9a-f]{40}$/.test(content) ? content : undefined;
    const ref = m[1] as string;
    const loose = [join(gitDir, ref), join(commonDir, ref)].find((p) => existsSync(p));
    if (loose) { content = readFileSync(loose, 'utf8').trim(); continue; }
    return packedRef(commonDir, ref);
  }
  return undefined;
}

function packedRef(commonDir: string, ref: string): string | undefined {
  let text: string;
  try { text = readFileSync(join(commonDir, 'packed-refs'), 'utf8'); } catch { return undefined; }
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.startsWith('^')) continue;
    const [sha, name] = line.split(' ');
    if (name === ref && sha && /^[0-9a-f]{40}$/.test(sha)) return sha;
  }
  return undefined;
}

interface GitObject { type: number; data: Buffer }
const OBJ_COMMIT = 1;
const OBJ_OFS_DELTA = 6;
const OBJ_REF_DELTA = 7;
const TYPE_NAMES: Record<string, number> = { commit: 1, tree: 2, blob: 3, tag: 4 };

/** Reads an object, loose or packed; undefined if this store does not hold it. */
export function readObject(objectsDir: string, sha: string): GitObject | undefined {
  try {
    const raw = inflateSync(readFileSync(join(objectsDir, sha.slice(0, 2), sha.slice(2))));
    const nul = raw.indexOf(0);
    const type = TYPE_NAMES[raw.subarray(0, nul).toString('latin1').split(' ')[0] ?? ''] ?? 0;
    return { type, data: raw.subarray(nul + 1) };
  } catch { /* not loose */ }
  let packs: string[];
  try { packs = readdirSync(join(objectsDir, 'pack')).filter((f) => f.endsWith('.idx')); } catch { return undefined; }
  for (const idx of packs) {
    const offset = findInIndex(join(objectsDir, 'pack', idx), Buffer.from(sha, 'hex'));
    if (offset !== undefined) return readPacked(objectsDir, join(objectsDir, 'pack', idx.replace(/\.idx$/, '.pack')), offset);
  }
  return undefined;
}

/**
 * The pack offset of `id` in a version-2 pack index (fan-out, sorted ids,
 * CRCs, offsets), read piecewise: a monorepo's index can be tens of MiB,
 * and a lookup needs ~20 of its 20-byte ids.
 */
function findInIndex(idxPath: string, id: Buffer): number | undefined {
  const fd = openSync(idxPath, 'r');
  try {
    const read = (pos: number, len: number): Buffer => {
      const b = Buffer.alloc(len);
      if (readSync(fd, b, 0, len, pos) !== len) throw new Error(`short pack index ${idxPath}`);
      return b;
    };
    const head = read(0, 8 + 256 * 4);
    if (head.readUInt32BE(0) !== 0xff744f63 || head.readUInt32BE(4) !== 2) return undefined;
    const fan = (i: number) => head.readUInt32BE(8 + i * 4);
    const first = id[0] as number;
    let lo = first === 0 ? 0 : fan(first - 1);
    let hi = fan(first);
    const n = fan(255);
    const ids = 8 + 256 * 4;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = id.compare(read(ids + mid * 20, 20));
      if (c === 0) {
        const offsets = ids + n * 24; // past the ids and the CRCs
        const off = read(offsets + mid * 4, 4).readUInt32BE(0);
        if ((off & 0x80000000) === 0) return off;
        return Number(read(offsets + n * 4 + (off & 0x7fffffff) * 8, 8).readBigUInt64BE(0));
      }
      if (c > 0) lo = mid + 1; else hi = mid;
    }
    return undefined;
  } finally { closeSync(fd); }
}

function readAt(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    return buf.subarray(0, readSync(fd, buf, 0, length, offset));
  } finally { closeSync(fd); }
}

function readPacked(objectsDir: string, pack: string, offset: number, depth = 0): GitObject | undefined {
  if (depth > 64) return undefined;
  // Commits and their delta chains are small; a window of the pack saves reading it whole.
  const size = statSync(pack).size;
  const buf = readAt(pack, offset, Math.min(size - offset, 1 << 20));
  let p = 0;
  let c = buf[p++] as number;
  const type = (c >> 4) & 7;
  while (c & 0x80) c = buf[p++] as number; // the inflated size: inflate finds it anyway
  let base: GitObject | undefined;
  if (type === OBJ_OFS_DELTA) {
    c = buf[p++] as number;
    let rel = c & 0x7f;
    while (c & 0x80) { c = buf[p++] as number; rel = ((rel + 1) << 7) + (c & 0x7f); }
    base = readPacked(objectsDir, pack, offset - rel, depth + 1);
  } else if (type === OBJ_REF_DELTA) {
    base = readObject(objectsDir, buf.subarray(p, p + 20).toString('hex'));
    p += 20;
  }
  let data: Buffer;
  try { data = inflateSync(buf.subarray(p)); } catch {
    data = inflateSync(readAt(pack, offset + p, size - offset - p));
  }
  if (type !== OBJ_OFS_DELTA && type !== OBJ_REF_DELTA) return { type, data };
  return base ? { type: base.type, data: applyDelta(base.data, data) } : undefined;
}

/** git's delta format: two sizes, then copy-from-base and insert instructions. */
export function applyDelta(base: Buffer, delta: Buffer): Buffer {
  let p = 0;
  const varint = (): number => {
    let v = 0;
    let shift = 0;
    let c: number;
    do { c = delta[p++] as number; v += (c & 0x7f) * 2 ** shift; shift += 7; } while (c & 0x80);
    return v;
  };
  varint(); // base size
  const out = Buffer.alloc(varint());
  let o = 0;
  while (p < delta.length) {
    const op = delta[p++] as number;
    if (op & 0x80) {
      let off = 0;
      let len = 0;
      for (let i = 0; i < 4; i++) if (op & (1 << i)) off += (delta[p++] as number) * 2 ** (8 * i);
      for (let i = 0; i < 3; i++) if (op & (0x10 << i)) len += (delta[p++] as number) << (8 * i);
      if (len === 0) len = 0x10000;
      o += base.copy(out, o, off, off + len);
    } else if (op > 0) {
      o += delta.copy(out, o, p, p + op);
      p += op;
    } else {
      throw new Error('bad delta instruction');
    }
  }
  return out;
}

/** The committer time (seconds) of a commit object's text. */
export function committerTime(commit: Buffer): number | undefined {
  const head = commit.toString('utf8').split('\n\n')[0] ?? '';
  const m = /^committer .* (\d+) [+-]\d{4}$/m.exec(head);
  return m ? Number(m[1]) : undefined;
}

/** HEAD's committer time as this reader finds it in .git; undefined when it cannot tell. */
export function readHeadTime(contextDir: string): number | undefined {
  const repo = findGitDir(contextDir);
  if (!repo) return undefined;
  const sha = resolveHead(repo.gitDir, repo.commonDir);
  const obj = sha ? readObject(join(repo.commonDir, 'objects'), sha) : undefined;
  return obj?.type === OBJ_COMMIT ? committerTime(obj.data) : undefined;
}

/** HEAD's committer time for a dir inside a git work tree; undefined when there is none. */
export function gitHeadTime(contextDir: string): number | undefined {
  if (!findGitDir(contextDir)) return undefined;
  try {
    const t = readHeadTime(contextDir);
    if (t !== undefined) return t;
  } catch { /* a layout this reader does not know: ask git */ }
  try {
    const { execFileSync } = load('node:child_process') as typeof import('node:child_process');
    const out = execFileSync('git', ['-C', contextDir, 'log', '-1', '--format=%ct'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim();
    return /^\d+$/.test(out) ? Number(out) : undefined;
  } catch {
    return undefined; // no git, or no commit yet
  }
}
