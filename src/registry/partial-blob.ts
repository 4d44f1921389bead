// Resumable blob downloads into the store.
//
// Owns: fetching one blob so that an interrupted transfer is not started
// over. The bytes are written once, into a partial file under
// ROOT/registry/partial/ that the store's BlobWriter hashes as they arrive
// and, when the digest checks out, renames into the CAS. If the connection
// resets, we continue with `Range: bytes=<have>-`; if the whole process dies
// (kill -9), the next pull hashes the partial file's bytes first and asks
// the registry only for the rest. A digest mismatch deletes the partial
// file: the store keeps nothing, and neither do we. An optional sink sees
// every byte in order as it arrives (the layer unpacker, so a layer is laid
// out while it downloads instead of being read back afterwards).
//
// The partial file lives outside the store's tmp/ because the store empties
// tmp/ on open, which would throw away exactly what we keep for resuming.
import { mkdir, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { TsbuildError } from '../errors.js';
import { Gatherer } from '../gather.js';
import type { Descriptor } from '../image/oci.js';
import type { BlobWriter } from '../store/blob-writer.js';
import type { ByteSink, Store } from '../store/index.js';
import { isConnectionError, type RegistryClient } from './http.js';
import type { Progress } from './progress.js';
import { pidAlive } from '../pid-alive.js';

/** Bytes gathered from the network before they are written and passed on. */
const PIECE_BYTES = 1 << 20;
/** Partial files nobody resumed for this long are removed. */
const STALE_MS = 7 * 24 * 3600 * 1000;

export interface BlobSource {
  client: RegistryClient;
  repository: string;
  /** For messages: `host/repo`. */
  name: string;
}

export interface DownloadOptions {
  progress: Progress;
  /** How many times a broken connection is resumed before giving up. */
  resumes?: number;
  baseDelayMs?: number;
  /** Sees every byte of the blob in order (the replayed prefix included); its backpressure slows the download. */
  sink?: ByteSink;
}


export function partialDir(store: Store): string {
  return join(store.root, 'registry', 'partial');
}

/** One download per digest per process: two pulls sharing a layer share the transfer. */
const inflight = new Map<string, Promise<void>>();

/** Ensure the store holds blob `desc`, downloading what is missing. */
export function fetchBlob(store: Store, src: BlobSource, desc: Descriptor, opts: DownloadOptions): Promise<void> {
  const key = `${store.root}\0${desc.digest}`;
  const running = inflight.get(key);
  // Someone else's download of this blob feeds their sink, not ours: once it
  // is in the store, ours gets the bytes from there.
  if (running) return opts.sink ? running.then(() => replayStored(store, desc, opts.sink as ByteSink)) : running;
  const p = fetchBlobOnce(store, src, desc, opts).finally(() => inflight.delete(key));
  inflight.set(key, p);
  return p;
}

async function replayStored(store: Store, desc: Descriptor, sink: ByteSink): Promise<void> {
  for await (const chunk of await store.openBlob(desc.digest, desc.size)) await sink.write(chunk as Buffer);
}

async function fetchBlobOnce(store: Store, src: BlobSource, desc: Descriptor, opts: DownloadOptions): Promise<void> {
  if (await store.hasBlob(desc.digest)) {
    opts.progress.finish(desc.digest, 'skipped: already exists');
    if (opts.sink) await replayStored(store, desc, opts.sink);
    return;
  }
  const dir = partialDir(store);
  await mkdir(dir, { recursive: true });
  const hex = desc.digest.slice('sha256:'.length);
  const lock = await claim(join(dir, `${hex}.lock`));
  // Another live process is downloading this blob: don't share its file,
  // download privately (no resume) rather than wait on a stranger.
  const path = lock ? join(dir, hex) : join(dir, `${hex}.${process.pid}.${Date.now()}.private`);
  opts.progress.start(desc.digest, desc.size);
  try {
    for (let attempt = 0; ; attempt++) {
      const writer = await store.openBlobWriter(path, { digest: desc.digest, size: desc.size });
      const resumedFrom = writer.resumeOffset;
      try {
        await download(src, desc, writer, opts);
        await writer.commit();
        opts.progress.finish(desc.digest, 'done');
        return;
      } catch (err) {
        const corrupt = (err as TsbuildError).code === 'E_DIGEST_MISMATCH';
        // Bytes that hash wrong must not be resumed from. Anything else (a
        // broken connection, Ctrl-C) keeps the partial file for the next pull.
        await writer.abort(lock !== undefined && !corrupt);
        // A resumed download that hashes wrong may have had a bad partial
        // file (a crash before its pages reached the disk): once, start over
        // — unless a sink has already consumed those bytes.
        if (corrupt && resumedFrom > 0 && attempt === 0 && !opts.sink) continue;
        opts.progress.finish(desc.digest, 'failed');
        throw err;
      }
    }
  } finally {
    if (lock) await unlink(lock).catch(() => undefined);
  }
}

/**
 * Take `<hex>.lock` by exclusive create, holding our pid. A lock whose pid is
 * gone (kill -9) is taken over. Returns the lock path, or undefined when a
 * live process holds it.
 */
async function claim(lockPath: string): Promise<string | undefined> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(lockPath, String(process.pid), { flag: 'wx' });
      return lockPath;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = Number(await readFile(lockPath, 'utf8').catch(() => ''));
    // Our own pid here is a stale lock from a killed process that had the same
    // pid: downloads inside this process are already deduplicated by `inflight`.
    if (pid > 0 && pid !== process.pid && pidAlive(pid)) return undefined;
    await unlink(lockPath).catch(() => undefined);
  }
  return undefined;
}


/**
 * Feed `writer` (and the sink) the blob: first whatever the partial file
 * holds, then the network from that offset on, resuming with a Range
 * request after a reset. Returns normally once every byte is written;
 * throws E_DIGEST_MISMATCH when the registry sends more or fewer bytes.
 */
async function download(src: BlobSource, desc: Descriptor, writer: BlobWriter, opts: DownloadOptions): Promise<void> {
  const sink = opts.sink;
  for await (const chunk of writer.replay()) {
    opts.progress.advance(desc.digest, chunk.length);
    if (sink) await sink.write(chunk);
  }
  // Network chunks (~64 KiB) are gathered into PIECE_BYTES writes: each write
  // is a thread-pool round trip for the file and a step through the
  // unpacker, and thousands of them cost more than the copy that gathers them.
  const gathered = new Gatherer(PIECE_BYTES);
  const emit = async (piece: Buffer | undefined): Promise<void> => {
    if (!piece) return;
    await writer.write(piece);
    opts.progress.advance(desc.digest, piece.length);
    if (sink) await sink.write(piece);
  };
  const resumes = opts.resumes ?? 5;
  for (let attempt = 0; writer.size < desc.size || (desc.size === 0 && attempt === 0); attempt++) {
    try {
      for await (const chunk of fetchFrom(src, desc, writer.size)) {
        if (writer.size + gathered.size + chunk.length > desc.size) throw sizeMismatch(src, desc, 'larger');
        await emit(gathered.add(chunk));
      }
      await emit(gathered.take());
      if (writer.size >= desc.size) break;
      // A body that ends cleanly but short is a complete response of the
      // wrong length (a reset surfaces as an error instead): the blob on the
      // registry is not what the manifest says.
      throw sizeMismatch(src, desc, 'smaller');
    } catch (err) {
      // What arrived before a reset is good: keep it, to resume after it (now or in the next pull).
      if (!(err instanceof TsbuildError) && isConnectionError(err)) await emit(gathered.take());
      if (err instanceof TsbuildError || !isConnectionError(err) || attempt >= resumes) {
        if (err instanceof TsbuildError) throw err;
        throw new TsbuildError('E_REGISTRY_UNREACHABLE', `downloading blob ${desc.digest} from ${src.name}: ${(err as Error).message}`, { cause: err });
      }
      await sleep((opts.baseDelayMs ?? 250) * 2 ** attempt);
    }
  }
}

function sizeMismatch(src: BlobSource, desc: Descriptor, how: string): TsbuildError {
  return new TsbuildError('E_DIGEST_MISMATCH', `blob ${desc.digest} from ${src.name} is ${how} than its ${desc.size} bytes: digest mismatch`);
}

/** GET the blob from `offset`; a server that ignores Range sends it whole, and we skip what we have. */
async function* fetchFrom(src: BlobSource, desc: Descriptor, offset: number): AsyncGenerator<Buffer> {
  const res = await src.client.request({
    path: `/v2/${src.repository}/blobs/${desc.digest}`,
    repository: src.repository,
    headers: offset > 0 ? { Range: `bytes=${offset}-` } : {},
    expect: offset > 0 ? [200, 206] : [200],
    what: `blob ${desc.digest} in ${src.name}`,
  });
  if (!res.body) return;
  let skip = offset > 0 && res.status === 200 ? offset : 0;
  if (offset > 0 && res.status === 206) {
    const range = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '');
    if (!range || Number(range[1]) !== offset) {
      throw new TsbuildError('E_REGISTRY', `blob ${desc.digest} from ${src.name}: registry answered range request for ${offset} with "${res.headers.get('content-range')}"`);
    }
  }
  for await (const raw of res.body) {
    let chunk = raw as Buffer;
    if (skip > 0) {
      const n = Math.min(skip, chunk.length);
      skip -= n;
      chunk = chunk.subarray(n);
      if (chunk.length === 0) continue;
    }
    yield chunk;
  }
}

/** Remove partial downloads that no live process holds and nobody resumed for a week. */
export async function cleanStalePartials(store: Store, now = Date.now()): Promise<void> {
  const dir = partialDir(store);
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const n of names) {
    if (n.endsWith('.lock')) continue;
    const p = join(dir, n);
    const st = await stat(p).catch(() => undefined);
    if (!st) continue;
    const isPrivate = n.endsWith('.private');
    const owner = isPrivate ? Number(n.split('.')[1]) : undefined;
    const orphan = isPrivate && owner !== undefined && !pidAlive(owner);
    if (orphan || now - st.mtimeMs > STALE_MS) {
      const lock = `${join(dir, n.split('.')[0] as string)}.lock`;
      const holder = Number(await readFile(lock, 'utf8').catch(() => ''));
      if (!isPrivate && holder > 0 && pidAlive(holder)) continue;
      await rm(p, { force: true });
    }
  }
}
