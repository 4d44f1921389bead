// The unpacker's file system work, encoded into batches for the crate's
// RootedDir.applyBatch (crates/native/src/rootedfs/batch.rs has the format).
//
// Owns the encoding and the order of batches. A tar of tens of thousands
// of small files used to cost two or three napi calls per entry, each with
// a metadata object to convert, all on the main thread that also inflates,
// hashes and parses the tar. Now entries are appended to a buffer, and a
// full buffer is applied on a worker thread while the main thread goes on
// parsing: at most one batch is in flight (their order is the tar's), and
// the next one fills meanwhile. The crate does the same rooted calls as
// before (openat2 RESOLVE_IN_ROOT per entry), so security is unchanged.
//
// Durability: no file is fsynced here. The store's rule is that a name is
// published only after what it names is on disk: a blob is fsynced before
// its rename (BlobWriter); an unpacked layer, layer.json included, is
// flushed by one syncfs of the store's file system before the rename to
// layers/<hex> (LayerStore.publish), and large files start writeback every
// 8 MiB so that the syncfs waits only for the tail. A crash leaves at most
// tmp/ garbage. containerd applies layers without syncing unless asked
// (containerd#9497, #9401), containers/storage has an opt-in
// `sync = "filesystem"` before a layer is marked complete (container-libs#622),
// and per-file fsync was tried and dropped for its cost elsewhere
// (foundriesio/meta-lmp#992 vs #993).
import { TsbuildError } from '../../errors.js';
import type { EntryMeta, RootedDir } from '../../../crates/native/binding.js';

const OP = { mkdir: 1, fileOpen: 2, fileData: 3, fileClose: 4, symlink: 5, hardlink: 6, mknod: 7, whiteout: 8, setMeta: 9, fileCopy: 10 } as const;
const NODE_KIND = { fifo: 0, char: 1, block: 2 } as const;

/** A batch is sent once it holds this many bytes (file data included)... */
const BATCH_BYTES = 1 << 20;
/** ...or this many operations, so that small-file batches overlap with parsing early. */
const BATCH_OPS = 512;

const BUFFER_BYTES = BATCH_BYTES + (64 << 10);

/**
 * An append-only byte buffer that grows by doubling. Two buffers take
 * turns (one being applied, one filling), so a layer does not fault in a
 * fresh megabyte for every batch.
 */
class Encoder {
  private buf: Buffer = Buffer.allocUnsafe(BUFFER_BYTES);
  private spare: Buffer | undefined;
  /** The buffer of the batch last taken (being applied now). */
  private taken: Buffer | undefined;
  length = 0;
  ops = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  op(code: number): void {
    this.u8(code);
    this.ops++;
  }

  u8(v: number): void {
    this.room(1);
    this.buf[this.length++] = v;
  }

  u32(v: number): void {
    this.room(4);
    this.buf.writeUInt32LE(v >>> 0, this.length);
    this.length += 4;
  }

  i64(v: number): void {
    this.room(8);
    this.buf.writeBigInt64LE(BigInt(Math.trunc(v)), this.length);
    this.length += 8;
  }

  bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  str(s: string): void {
    // Names are short: one byteLength pass and one write beat an intermediate Buffer.
    const n = Buffer.byteLength(s);
    this.u32(n);
    this.room(n);
    this.buf.write(s, this.length, n, 'utf8');
    this.length += n;
  }

  meta(m: EntryMeta): void {
    this.u32(m.uid);
    this.u32(m.gid);
    this.u32(m.mode);
    this.i64(m.mtimeSec);
    this.u32(m.mtimeNsec);
    const xs = m.xattrs ?? [];
    this.u32(xs.length);
    for (const x of xs) {
      this.str(x.name);
      this.bytes(x.value);
    }
  }

  /** The encoded bytes so far (a copy-free view); the encoder starts over on the spare buffer. */
  take(): Buffer {
    const out = this.buf.subarray(0, this.length);
    this.taken = this.buf;
    this.buf = this.spare ?? Buffer.allocUnsafe(BUFFER_BYTES);
    this.spare = undefined;
    this.length = 0;
    this.ops = 0;
    return out;
  }

  /** The batch last taken has been applied: its buffer may be filled again (a grown one is dropped). */
  recycle(): void {
    if (this.taken?.length === BUFFER_BYTES) this.spare = this.taken;
    this.taken = undefined;
  }
}

/** The batch's failure, with the native code the binding's wrapper read off it (src/native/index.ts). */
function batchError(what: string, err: unknown): TsbuildError {
  const msg = (err as Error)?.message ?? String(err);
  return new TsbuildError(err instanceof TsbuildError ? err.code : 'E_NATIVE', `${what}: ${msg}`, { cause: err });
}

/** Entry operations for one RootedDir, applied in order, one batch in flight. */
export class EntryBatcher {
  private enc = new Encoder();
  private inflight: Promise<void> | undefined;
  private failed: TsbuildError | undefined;

  constructor(private readonly root: RootedDir, private readonly what: string) {}

  mkdir(path: string): void {
    this.enc.op(OP.mkdir);
    this.enc.str(path);
  }

  fileOpen(path: string): void {
    this.enc.op(OP.fileOpen);
    this.enc.str(path);
  }

  fileData(chunk: Uint8Array): void {
    this.enc.op(OP.fileData);
    this.enc.bytes(chunk);
  }

  fileClose(meta: EntryMeta): void {
    this.enc.op(OP.fileClose);
    this.enc.meta(meta);
  }

  /** A file filled from the host file `source` in the kernel (COPY's files). */
  fileCopy(path: string, source: string, meta: EntryMeta): void {
    this.enc.op(OP.fileCopy);
    this.enc.str(path);
    this.enc.str(source);
    this.enc.meta(meta);
  }

  symlink(path: string, target: string, meta: EntryMeta): void {
    this.enc.op(OP.symlink);
    this.enc.str(path);
    this.enc.str(target);
    this.enc.meta(meta);
  }

  hardlink(path: string, target: string): void {
    this.enc.op(OP.hardlink);
    this.enc.str(path);
    this.enc.str(target);
  }

  mknod(path: string, kind: keyof typeof NODE_KIND, major: number, minor: number, meta: EntryMeta): void {
    this.enc.op(OP.mknod);
    this.enc.str(path);
    this.enc.u8(NODE_KIND[kind]);
    this.enc.u32(major);
    this.enc.u32(minor);
    this.enc.meta(meta);
  }

  whiteout(path: string): void {
    this.enc.op(OP.whiteout);
    this.enc.str(path);
  }

  setMetadata(path: string, meta: EntryMeta): void {
    this.enc.op(OP.setMeta);
    this.enc.str(path);
    this.enc.meta(meta);
  }

  /** Send the batch if it is full; waits only when the previous one is still being applied. */
  async maybeFlush(): Promise<void> {
    if (this.enc.length >= BATCH_BYTES || this.enc.ops >= BATCH_OPS) await this.flush();
  }

  /** Send what is buffered (after the batch in flight, which is awaited first). */
  async flush(): Promise<void> {
    await this.settle();
    if (this.enc.length === 0) return;
    const ops = this.enc.take();
    this.inflight = this.root.applyBatch(ops).catch((err: unknown) => {
      this.failed = batchError(this.what, err);
    });
  }

  /** Wait for the batch in flight; throws its failure. */
  private async settle(): Promise<void> {
    if (this.inflight) await this.inflight;
    this.inflight = undefined;
    if (this.failed) throw this.failed;
    this.enc.recycle();
  }

  /** Apply everything buffered and wait for it. */
  async finish(): Promise<void> {
    await this.flush();
    await this.settle();
  }

  /** After a failure: wait until nothing writes into the root, and close a file left open. */
  async abort(): Promise<void> {
    await this.inflight;
    this.inflight = undefined;
    this.enc = new Encoder();
    this.root.discardBatch();
  }
}
