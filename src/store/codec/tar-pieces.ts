// The layer tar's bytes made straight into fixed-size pieces, without a
// packer stream: headers encoded here, file bodies read with readSync
// directly into the piece (no buffer per file, no copy to gather them).
//
// Why not tar-stream any more: committing a step that wrote 13,000 files /
// 470 MB (apt-get install golang-go) spent more main-thread time in the
// packer's per-entry streams, the per-file buffers, the copies that joined
// them into pieces and the garbage collection of it all than in the sha256
// itself (node --cpu-prof; see layer-tar.ts). Here the hash-only pass reuses
// one piece buffer, so a commit allocates almost nothing.
//
// The bytes are tar-stream 3's for the headers layer-tar.ts gives it (the
// diffIDs of layers built before must not change): ustar with the name split
// into prefix/name when it is ASCII and fits, otherwise (or with PAX
// records) a `PaxHeader` entry carrying path/linkpath/records, then the
// entry's header named `PaxHeader` too; directories get no trailing slash;
// mtime as (ms / 1000) | 0; sizes beyond 11 octal digits in base-256; 1024
// zero bytes at the end. test/unit/store/tar-pieces.test.ts holds it to
// tar-stream's output byte for byte.
import { closeSync, openSync, readSync } from 'node:fs';
import { TsbuildError } from '../../errors.js';

export type TarType = 'file' | 'link' | 'symlink' | 'character-device' | 'block-device' | 'directory' | 'fifo' | 'pax-header';

export interface TarHeader {
  name: string;
  type: TarType;
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
  size?: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  pax?: Record<string, string>;
}

const TYPEFLAG: Record<TarType, number> = { file: 0, link: 1, symlink: 2, 'character-device': 3, 'block-device': 4, directory: 5, fifo: 6, 'pax-header': 72 };
const ZEROS = '0000000000000000000';
const SEVENS = '7777777777777777777';
const USTAR = Buffer.from([0x75, 0x73, 0x74, 0x61, 0x72, 0x00, 0x30, 0x30]); // "ustar\0" "00"

function oct(val: number, n: number): string {
  const s = val.toString(8);
  return s.length > n ? `${SEVENS.slice(0, n)} ` : `${ZEROS.slice(0, n - s.length)}${s} `;
}

function isAscii(s: string): boolean {
  return Buffer.byteLength(s) === s.length;
}

/** One 512-byte ustar header, or undefined when the names do not fit (then PAX carries them). */
function encodeUstar(h: TarHeader, size: number): Buffer | undefined {
  let name = h.name;
  let prefix = '';
  if (!isAscii(name)) return undefined;
  while (name.length > 100) {
    const i = name.indexOf('/');
    if (i === -1) return undefined;
    prefix += prefix ? `/${name.slice(0, i)}` : name.slice(0, i);
    name = name.slice(i + 1);
  }
  if (prefix.length > 155) return undefined;
  if (h.linkname && Buffer.byteLength(h.linkname) > 100) return undefined;
  const buf = Buffer.alloc(512);
  buf.write(name, 0);
  buf.write(oct(h.mode & 0o7777, 6), 100);
  buf.write(oct(h.uid, 6), 108);
  buf.write(oct(h.gid, 6), 116);
  if (size.toString(8).length > 11) {
    buf[124] = 0x80;
    let n = size;
    for (let i = 11; i > 0; i--) {
      buf[124 + i] = n & 0xff;
      n = Math.floor(n / 0x100);
    }
  } else {
    buf.write(oct(size, 11), 124);
  }
  buf.write(oct((h.mtime.getTime() / 1000) | 0, 11), 136);
  buf[156] = 0x30 + TYPEFLAG[h.type];
  if (h.linkname) buf.write(h.linkname, 157);
  USTAR.copy(buf, 257);
  buf.write(oct(h.devmajor ?? 0, 6), 329);
  buf.write(oct(h.devminor ?? 0, 6), 337);
  if (prefix) buf.write(prefix, 345);
  let sum = 8 * 32;
  for (let i = 0; i < 148; i++) sum += buf[i] as number;
  for (let i = 156; i < 512; i++) sum += buf[i] as number;
  buf.write(oct(sum, 6), 148);
  return buf;
}

function paxRecord(s: string): string {
  const len = Buffer.byteLength(s);
  let digits = Math.floor(Math.log(len) / Math.log(10)) + 1;
  if (len + digits >= 10 ** digits) digits++;
  return `${len + digits}${s}`;
}

/** The header blocks of an entry (with its PAX entry and padding when needed), before its body. */
export function encodeHeader(h: TarHeader, size: number): Buffer {
  if (!h.pax) {
    const plain = encodeUstar(h, size);
    if (plain) return plain;
  }
  let records = '';
  if (h.name) records += paxRecord(` path=${h.name}\n`);
  if (h.linkname) records += paxRecord(` linkpath=${h.linkname}\n`);
  for (const key in h.pax ?? {}) records += paxRecord(` ${key}=${(h.pax as Record<string, string>)[key]}\n`);
  const body = Buffer.from(records);
  const paxHead: TarHeader = { name: 'PaxHeader', mode: h.mode, uid: h.uid, gid: h.gid, mtime: h.mtime, type: 'pax-header', ...(h.linkname ? { linkname: 'PaxHeader' } : {}), ...(h.devmajor !== undefined ? { devmajor: h.devmajor } : {}), ...(h.devminor !== undefined ? { devminor: h.devminor } : {}) };
  const first = encodeUstar(paxHead, body.length) as Buffer;
  const second = encodeUstar({ ...paxHead, type: h.type }, size) as Buffer;
  return Buffer.concat([first, body, Buffer.alloc(padding(body.length)), second]);
}

function padding(size: number): number {
  const r = size & 511;
  return r ? 512 - r : 0;
}

/** An entry: its header, and for a regular file with content the file to read `size` bytes from. */
export interface TarItem {
  header: TarHeader;
  /** Absolute path of the body's file (regular files with size > 0). */
  file?: string;
}

/**
 * The tar of `items` as pieces of exactly `pieceSize` bytes (the last one
 * shorter). With `reuse`, every piece is the same buffer, valid until the
 * next one is asked for (for a hash-only pass); otherwise each is new.
 */
export function* tarPieces(items: Iterable<TarItem>, pieceSize: number, reuse: boolean): Generator<Buffer> {
  let buf = Buffer.allocUnsafe(pieceSize);
  let off = 0;
  const full = (): Buffer => {
    const piece = buf;
    if (!reuse) buf = Buffer.allocUnsafe(pieceSize);
    off = 0;
    return piece;
  };
  function* put(bytes: Buffer): Generator<Buffer> {
    let at = 0;
    while (at < bytes.length) {
      const n = Math.min(bytes.length - at, pieceSize - off);
      bytes.copy(buf, off, at, at + n);
      off += n;
      at += n;
      if (off === pieceSize) yield full();
    }
  }
  function* zeros(count: number): Generator<Buffer> {
    while (count > 0) {
      const n = Math.min(count, pieceSize - off);
      buf.fill(0, off, off + n);
      off += n;
      count -= n;
      if (off === pieceSize) yield full();
    }
  }
  for (const item of items) {
    const size = item.file !== undefined ? item.header.size ?? 0 : 0;
    yield* put(encodeHeader(item.header, size));
    if (item.file === undefined || size === 0) continue;
    const fd = openSync(item.file, 'r');
    try {
      let left = size;
      while (left > 0) {
        const n = readSync(fd, buf, off, Math.min(left, pieceSize - off), null);
        if (n === 0) throw new TsbuildError('E_LAYER_FS', `${item.file}: the file shrank while its layer was being written`);
        off += n;
        left -= n;
        if (off === pieceSize) yield full();
      }
    } finally {
      closeSync(fd);
    }
    yield* zeros(padding(size));
  }
  yield* zeros(1024);
  if (off > 0) yield buf.subarray(0, off);
}
