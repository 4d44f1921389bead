// The cache key's view of a COPY/ADD step: a sha256 over what the step
// would copy, so that `touch` (mtimes) keeps a cache hit and one changed
// byte, mode or link target misses.
//
// Hashed: the flags that change the result (dest, WORKDIR for a relative
// one, --chown, --chmod, --parents, --exclude, ADD's --unpack/--checksum),
// then per source its placement name and every entry below it: relative
// path, type, permission bits, owner where the source's owners are kept
// (--from), link target, hard-link partner, and file bytes (streamed, never
// whole files in memory). URLs are downloaded and their bytes hashed.
// Not hashed: mtimes, and anything about the target stage (its own cache
// key already covers it). With a SOURCE_DATE_EPOCH the layer holds
// min(mtime, epoch), so that is hashed: a touch (to after the epoch) still
// hits, and a file whose older mtime changed misses instead of reusing a
// layer a --no-cache build would not make.
// Beside it, the retime digest (executor/retime.ts): the same lines with
// each time as `mtime < epoch ? mtime : "epoch"`, so that it is the same
// under two epochs exactly when retiming the layer gives what a fresh
// build would.
import { Sha256 } from '../../sha256.js';
import { IgnoreMatcher } from '../context/ignore.js';
import { selectSources } from './select.js';
import { sourceTree } from './trees.js';
import { atStep, type CopyStep, entryKind, type EntryStat, type SourceTree } from './types.js';
import { downloadUrl } from './url.js';
import { TreeWalker } from './walk.js';
import { FileDigests } from './file-digests.js';

/** How a source's mtime enters the retime digest: its value before the epoch, else symbolic. */
export function retimeKeyTime(mtime: number, epoch: number): number | 'epoch' {
  return mtime < epoch ? mtime : 'epoch';
}

/** Lines are hashed in batches of about this many characters: one update per line costs more than the hashing. */
const BATCH = 1 << 16;

class EntryHasher {
  private readonly links = new Map<string, string>();
  private pending = '';
  private pendingRetime = '';

  constructor(private readonly hash: Sha256, private readonly tree: SourceTree, private readonly files: FileDigests, private readonly clamp: number | undefined, private readonly retime?: Sha256) {}

  /** One line of both digests; `retimeFields` replaces `fields` in the retime one. */
  line(fields: unknown[], retimeFields: unknown[] = fields): void {
    const text = `${JSON.stringify(fields)}\n`;
    this.pending += text;
    if (this.retime) this.pendingRetime += retimeFields === fields ? text : `${JSON.stringify(retimeFields)}\n`;
    if (this.pending.length >= BATCH) this.flush();
  }

  /** Feeds the batched lines to the hashes (before reading a digest). */
  flush(): void {
    if (this.pending !== '') this.hash.update(this.pending);
    if (this.pendingRetime !== '') this.retime?.update(this.pendingRetime);
    this.pending = '';
    this.pendingRetime = '';
  }

  entry(rel: string, path: string, st: EntryStat): void {
    const kind = entryKind(st);
    if (!kind) return;
    const owner = this.tree.kind === 'layers' ? [st.uid, st.gid] : [];
    if (kind === 'file' && st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      const first = this.links.get(key);
      if (first !== undefined) {
        this.line(['hardlink', rel, first]);
        return;
      }
      this.links.set(key, rel);
    }
    const extra = kind === 'symlink' ? this.tree.readlink(path) : kind === 'char' || kind === 'block' ? st.rdev : null;
    const sec = Math.floor(st.mtimeMs / 1000);
    const mtime = this.clamp === undefined ? [] : [Math.min(sec, this.clamp)];
    const retimed = this.clamp === undefined ? [] : [retimeKeyTime(sec, this.clamp)];
    const fields = [kind, rel, st.mode & 0o7777, ...owner, extra, kind === 'file' ? st.size : null];
    this.line([...fields, ...mtime], [...fields, ...retimed]);
    if (kind === 'file') this.line(['content', this.files.digest(this.tree.hostPath(path), st)]);
  }
}

/** sha256 (`sha256:<hex>`) over the step's selected sources and result-changing flags. */
export async function copySourceDigest(step: CopyStep): Promise<string> {
  return (await copySourceDigests(step)).exact;
}

/** The exact digest and, with an epoch, the retime digest (see the header). */
export async function copySourceDigests(step: CopyStep): Promise<{ exact: string; retime?: string }> {
  try {
    const ins = step.instruction;
    const hash = new Sha256();
    const retime = step.clampMtime === undefined ? undefined : new Sha256();
    const tree = sourceTree(step);
    const files = step.fileDigests ?? new FileDigests();
    const h = new EntryHasher(hash, tree, files, step.clampMtime, retime);
    h.line([
      'tsbuild-copy-v2', ins.kind, ins.dest, ins.dest.startsWith('/') ? '' : step.workdir, ins.chown, ins.chmod, ins.exclude,
      ins.kind === 'copy' ? ins.parents : null, ins.kind === 'add' ? [ins.unpack, ins.checksum] : null, tree.kind,
    ]);
    const exclude = ins.exclude.length > 0 ? new IgnoreMatcher(ins.exclude, '--exclude', 'pattern') : null;
    const walker = new TreeWalker(tree, exclude);
    for (const item of await selectSources(step, tree)) {
      switch (item.kind) {
        case 'inline':
          h.line(['inline', item.name, item.heredoc.content]);
          break;
        case 'url': {
          const dl = await downloadUrl(step, item.url);
          h.line(['url', item.url, item.name, dl.digest]);
          break;
        }
        case 'archive':
          h.line(['archive', item.written, item.stat.size, files.digest(item.hostPath, item.stat)]);
          break;
        case 'tree': {
          const rel = item.keep ?? '';
          h.line(['source', item.name, item.keep, item.stat.isDirectory()]);
          if (!item.stat.isDirectory()) {
            if (!walker.excluded(item.keep ?? item.name)) h.entry(item.keep ?? item.name, item.path, item.stat);
            break;
          }
          h.entry(rel, item.path, item.stat);
          for (const e of walker.walkListed(item.path, rel)) h.entry(e.rel, e.path, e.stat);
        }
      }
    }
    h.flush();
    const exact = `sha256:${hash.digest('hex')}`;
    return retime ? { exact, retime: `sha256:${retime.digest('hex')}` } : { exact };
  } catch (err) {
    throw atStep(step, err);
  }
}
