// ADD's local archives: recognising them and unpacking them into the layer.
//
// A file is an archive when its first tar header, after decompression
// (gzip, zstd, bzip2, xz or none, chosen by magic bytes), has a valid
// checksum; docker decides the same way (it tries to read one tar header),
// so `app.tar.gz` that is really a gzipped text file is copied, not
// unpacked. Node has no bzip2 or xz: unbzip2-stream (pure JS) and
// xz-decompress (xz-embedded compiled to WebAssembly, no native build)
// decode them; `ADD rootfs.tar.xz /` is how many base images are made.
// Unpacking reuses the store's layer unpacker, which writes every entry
// through the native RootedDir (openat2 RESOLVE_IN_ROOT) below the
// destination, so a hostile archive (`../../etc/passwd`, absolute names, a
// symlink followed by an entry below it, hard links to host files) cannot
// reach outside it. Owners come from the archive, as docker and buildah
// keep them. One inherited difference: the unpacker reads `.wh.NAME`
// entries as overlay whiteouts (it was written for image layers), where
// docker would create files of that name; such archives are rare.
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { PassThrough, Readable, type Duplex } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { constants as zlibConstants, gunzipSync } from 'node:zlib';
import { Decompress } from 'fzstd';
import type { XzReadableStream as XzStream } from 'xz-decompress';
import { type Compression, detectCompression } from '../../store/codec/compression.js';
import { unpackLayer } from '../../store/codec/unpack.js';

/** What ADD can unpack: the layer compressions plus bzip2 and xz. */
export type ArchiveCompression = Compression | 'bzip2' | 'xz';

const HEAD_BYTES = 64 * 1024;
const BZIP2_MAGIC = Buffer.from('BZh');
const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

/** Does this 512-byte block carry a valid tar header checksum (as Go's archive/tar checks)? */
export function isTarHeader(block: Uint8Array): boolean {
  if (block.length < 512) return false;
  const field = Buffer.from(block.subarray(148, 156)).toString('latin1').replace(/[\0 ]+$/, '').trim();
  if (!/^[0-7]+$/.test(field)) return false;
  const want = parseInt(field, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : (block[i] as number);
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return want === unsigned || want === signed;
}

function readHead(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(HEAD_BYTES);
    const n = readSync(fd, buf, 0, HEAD_BYTES, 0);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

function decompressHead(head: Buffer, kind: Compression): Buffer {
  if (kind === 'gzip') return gunzipSync(head, { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  if (kind === 'zstd') {
    const parts: Uint8Array[] = [];
    const dec = new Decompress((chunk) => { parts.push(chunk); });
    dec.push(head);
    return Buffer.concat(parts);
  }
  return head;
}

const startsWith = (head: Buffer, magic: Buffer): boolean => head.length >= magic.length && head.subarray(0, magic.length).equals(magic);

// Both decoders are CommonJS and rarely needed: loaded on first use, not at
// every CLI start.
const require = createRequire(import.meta.url);
const xzDecoder = (): typeof XzStream => (require('xz-decompress') as { XzReadableStream: typeof XzStream }).XzReadableStream;
const bzip2Decoder = (): (() => Duplex) => require('unbzip2-stream') as () => Duplex;

/** A stream of the file's decompressed bytes (bzip2 and xz only; the others go through unpackLayer). */
function decodedStream(path: string, kind: 'bzip2' | 'xz'): Readable {
  const raw = createReadStream(path, { highWaterMark: 1 << 20 });
  if (kind === 'xz') {
    const web = Readable.toWeb(raw) as unknown as ReadableStream<Uint8Array>;
    const Xz = xzDecoder();
    return Readable.fromWeb(new Xz(web) as unknown as WebReadableStream<Uint8Array>);
  }
  const out = new PassThrough();
  const dec = bzip2Decoder()();
  raw.on('error', (err) => out.destroy(err));
  dec.on('error', (err: Error) => out.destroy(err));
  raw.pipe(dec).pipe(out);
  return out;
}

/** The first `n` decoded bytes (fewer if the stream is shorter or corrupt). */
async function decodedHead(path: string, kind: 'bzip2' | 'xz', n: number): Promise<Buffer> {
  const stream = decodedStream(path, kind);
  const parts: Buffer[] = [];
  let have = 0;
  try {
    for await (const chunk of stream) {
      parts.push(Buffer.from(chunk as Uint8Array));
      have += (chunk as Uint8Array).length;
      if (have >= n) break;
    }
  } catch {
    /* corrupt: judged by what was decoded */
  } finally {
    stream.destroy();
  }
  return Buffer.concat(parts).subarray(0, n);
}

/** The compression the first bytes announce by their magic ('none' for none of ours). */
export function compressionOf(head: Buffer): ArchiveCompression {
  if (startsWith(head, XZ_MAGIC)) return 'xz';
  if (startsWith(head, BZIP2_MAGIC)) return 'bzip2';
  return detectCompression(head);
}

/**
 * The compression of a local tar archive ADD should unpack, or null when
 * the file is not a tar archive we can read (it is then copied as is).
 */
export async function archiveCompression(path: string): Promise<ArchiveCompression | null> {
  const head = readHead(path);
  const kind = compressionOf(head);
  if (kind === 'bzip2' || kind === 'xz') return isTarHeader(await decodedHead(path, kind, 512)) ? kind : null;
  let block: Buffer;
  try {
    block = decompressHead(head, kind);
  } catch {
    return null; // corrupt or truncated compression: not an archive docker would unpack either
  }
  return isTarHeader(block.subarray(0, 512)) ? kind : null;
}

/** Unpack the archive at `hostPath` into the existing directory `destDir` (which the caller created). */
export async function extractArchive(hostPath: string, compression: ArchiveCompression, destDir: string, what: string): Promise<void> {
  const privileged = process.getuid?.() === 0;
  const opts = { privileged, what };
  if (compression === 'bzip2' || compression === 'xz') {
    await unpackLayer(decodedStream(hostPath, compression), 'none', destDir, opts);
    return;
  }
  await unpackLayer(createReadStream(hostPath, { highWaterMark: 1 << 20 }), compression, destDir, opts);
}
