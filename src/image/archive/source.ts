// Read access to an image archive by path inside it, whatever its form: a
// directory (OCI layout), or a tar file (oci-archive, docker-archive), read
// by offset after one indexing pass so that blobs in any order can be
// streamed straight into the store without extracting the tar. A compressed
// tar (`docker save | gzip`) is decompressed into the store's tmp/ first.
//
// Names inside the archive come from its own manifests and may be hostile
// (`../../etc/shadow`): they are cleaned lexically and never leave the
// archive (tar entries are looked up in the index, directory paths must
// stay below the directory).
import { createReadStream, createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { TsbuildError } from '../../errors.js';
import { decompressor, detectFileCompression } from '../../store/codec/compression.js';
import { cleanTarPath } from '../../store/codec/unpack.js';

export interface ArchiveSource {
  /** What it is, for messages: the path the user gave. */
  readonly path: string;
  size(name: string): Promise<number | undefined>;
  /** A stream of the file `name`; E_ARCHIVE_MISSING if absent. */
  open(name: string): Promise<Readable>;
  /** The whole (small) file, at most `max` bytes. */
  read(name: string, max?: number): Promise<Buffer>;
  close(): Promise<void>;
}

const SMALL_MAX = 16 * 1024 * 1024;

function missing(archive: string, name: string): TsbuildError {
  return new TsbuildError('E_ARCHIVE_MISSING', `${archive}: archive has no file "${name}"`);
}

function clean(archive: string, name: string): string {
  const c = cleanTarPath(name);
  if (c === '' || name.split('/').includes('..')) throw new TsbuildError('E_BAD_ARCHIVE', `${archive}: invalid path "${name}" in archive`);
  return c;
}

async function readAll(s: Readable, max: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of s) {
    n += (c as Buffer).length;
    if (n > max) {
      s.destroy();
      throw new TsbuildError('E_BAD_ARCHIVE', `${what} is larger than ${max} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

class DirSource implements ArchiveSource {
  constructor(readonly path: string) {}

  async size(name: string): Promise<number | undefined> {
    const rel = clean(this.path, name);
    try {
      const st = await stat(join(this.path, rel));
      return st.isFile() ? st.size : undefined;
    } catch {
      return undefined;
    }
  }

  async open(name: string): Promise<Readable> {
    if ((await this.size(name)) === undefined) throw missing(this.path, name);
    return createReadStream(join(this.path, clean(this.path, name)), { highWaterMark: 1 << 20 });
  }

  async read(name: string, max = SMALL_MAX): Promise<Buffer> {
    return readAll(await this.open(name), max, `${this.path}: ${name}`);
  }

  async close(): Promise<void> {}
}

interface TarFile { offset: number; size: number }

class TarSource implements ArchiveSource {
  constructor(readonly path: string, private readonly file: string, private readonly entries: Map<string, TarFile>, private readonly cleanup?: string) {}

  private find(name: string): TarFile | undefined {
    return this.entries.get(clean(this.path, name));
  }

  async size(name: string): Promise<number | undefined> {
    return this.find(name)?.size;
  }

  async open(name: string): Promise<Readable> {
    const e = this.find(name);
    if (!e) throw missing(this.path, name);
    if (e.size === 0) return createReadStream(this.file, { start: 1, end: 0 });
    return createReadStream(this.file, { start: e.offset, end: e.offset + e.size - 1, highWaterMark: 1 << 20 });
  }

  async read(name: string, max = SMALL_MAX): Promise<Buffer> {
    return readAll(await this.open(name), max, `${this.path}: ${name}`);
  }

  async close(): Promise<void> {
    if (this.cleanup) await rm(this.cleanup, { force: true });
  }
}

/** One pass over the tar: where each regular file's data starts, and its size. */
async function indexTar(file: string, what: string): Promise<Map<string, TarFile>> {
  const files = new Map<string, TarFile>();
  const links: [string, string][] = [];
  const extract = tar.extract();
  const pump = pipeline(createReadStream(file, { highWaterMark: 1 << 20 }), extract);
  try {
    for await (const entry of extract) {
      const h = entry.header as tar.Header & { byteOffset?: number };
      const name = cleanTarPath(h.name);
      if (h.type === 'file' || h.type === 'contiguous-file') {
        // Data starts right after the (last) 512-byte header.
        files.set(name, { offset: typeof h.byteOffset === 'number' ? h.byteOffset : entry.offset + 512, size: h.size });
      } else if (h.type === 'link' || h.type === 'symlink') {
        // docker save links duplicate layers; resolve them against the index afterwards.
        const target = h.type === 'link' ? h.linkname : join(name, '..', h.linkname);
        links.push([name, cleanTarPath(target)]);
      }
      entry.resume();
    }
    await pump;
  } catch (err) {
    await pump.catch(() => undefined);
    throw new TsbuildError('E_BAD_ARCHIVE', `${what}: not a readable tar archive (${(err as Error).message})`, { cause: err });
  }
  for (let round = 0; round < 8; round++) {
    for (const [name, target] of links) {
      const t = files.get(target);
      if (t && !files.has(name)) files.set(name, t);
    }
  }
  return files;
}

/** Open `path` (a directory or a possibly compressed tar) for reading by name. */
export async function openArchive(path: string, tmpDir: string, tmpName: string): Promise<ArchiveSource> {
  let st;
  try {
    st = await stat(path);
  } catch {
    throw new TsbuildError('E_ARCHIVE_MISSING', `no such file or directory: ${path}`);
  }
  if (st.isDirectory()) return new DirSource(path);
  const kind = await detectFileCompression(path);
  if (kind === 'none') return new TarSource(path, path, await indexTar(path, path));
  const plain = join(tmpDir, tmpName);
  try {
    await pipeline(createReadStream(path), decompressor(kind), createWriteStream(plain, { mode: 0o600 }));
    return new TarSource(path, plain, await indexTar(plain, path), plain);
  } catch (err) {
    await rm(plain, { force: true });
    if (err instanceof TsbuildError) throw err;
    throw new TsbuildError('E_BAD_ARCHIVE', `${path}: cannot decompress (${(err as Error).message})`, { cause: err });
  }
}

/** Read the first `n` bytes of an archive file (for sniffing compression). */
export async function headOf(src: ArchiveSource, name: string, n = 4): Promise<Buffer> {
  const s = await src.open(name);
  const chunks: Buffer[] = [];
  let got = 0;
  for await (const c of s) {
    chunks.push(c as Buffer);
    got += (c as Buffer).length;
    if (got >= n) break;
  }
  s.destroy();
  return Buffer.concat(chunks).subarray(0, n);
}
