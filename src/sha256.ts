// SHA-256 without loading node:crypto for small inputs. Loading node:crypto
// (its JS side is not in Node's start-up snapshot) costs ~4 ms of a CLI
// call, and a fully cached build hashes only a few kilobytes: cache keys,
// the COPY sources' entry lines, config records. Those are hashed here in
// plain JS (FIPS 180-4, checked against node:crypto in
// test/unit/sha256.test.ts); once an input passes 64 KiB it moves to
// node:crypto (OpenSSL, SHA-NI), loaded then. Both give the same digest,
// so keys do not depend on which path made them. A leaf module: no imports
// from the rest of tsbuild.
import { nodeCrypto } from './node-crypto.js';

/** Inputs up to this size are hashed in JS; a larger one goes to node:crypto. */
const SMALL = 64 * 1024;
/**
 * JS hashing is ~10x slower a byte than OpenSSL (0.4 ms for 60 KB): once a
 * process has hashed this much in JS (a build on a deep image hashes its
 * 50 KB config again and again), loading node:crypto has paid for itself,
 * and everything after goes there.
 */
const JS_BUDGET = 256 * 1024;
let jsBytes = 0;

/** How many bytes this process has hashed in JS; tests reset it (each test then starts on the JS path). */
export const jsHashing = {
  get bytes(): number { return jsBytes; },
  reset(): void { jsBytes = 0; },
};

/** Hash `bytes` in JS? Counts them against the budget. */
function inJs(size: number): boolean {
  if (size > SMALL || jsBytes > JS_BUDGET) return false;
  jsBytes += size;
  return true;
}

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const W = new Uint32Array(64);

/** SHA-256 of `bytes` in JS (for small inputs), as lowercase hex. */
function smallDigest(bytes: Uint8Array): string {
  const bitLen = bytes.length * 8;
  const padded = new Uint8Array(((bytes.length + 9 + 63) >> 6) << 6);
  padded.set(bytes);
  padded[bytes.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(bitLen / 0x100000000));
  view.setUint32(padded.length - 4, bitLen >>> 0);
  let h0 = 0x6a09e667, h1 = 0xbb67ae85, h2 = 0x3c6ef372, h3 = 0xa54ff53a;
  let h4 = 0x510e527f, h5 = 0x9b05688c, h6 = 0x1f83d9ab, h7 = 0x5be0cd19;
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 16; i++) W[i] = view.getUint32(off + i * 4);
    for (let i = 16; i < 64; i++) {
      const w15 = W[i - 15] as number;
      const w2 = W[i - 2] as number;
      const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
      const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
      W[i] = ((W[i - 16] as number) + s0 + (W[i - 7] as number) + s1) >>> 0;
    }
    let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (h + S1 + ch + (K[i] as number) + (W[i] as number)) >>> 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) >>> 0;
      h = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
    }
    h0 = (h0 + a) >>> 0; h1 = (h1 + b) >>> 0; h2 = (h2 + c) >>> 0; h3 = (h3 + d) >>> 0;
    h4 = (h4 + e) >>> 0; h5 = (h5 + f) >>> 0; h6 = (h6 + g) >>> 0; h7 = (h7 + h) >>> 0;
  }
  return [h0, h1, h2, h3, h4, h5, h6, h7].map((x) => x.toString(16).padStart(8, '0')).join('');
}

const encoder = new TextEncoder();
const toBytes = (data: string | Uint8Array): Uint8Array => (typeof data === 'string' ? encoder.encode(data) : data);

/** sha256 of `data` (a string is hashed as UTF-8), as lowercase hex. */
export function sha256Hex(data: string | Uint8Array): string {
  const bytes = toBytes(data);
  if (inJs(bytes.length)) return smallDigest(bytes);
  return nodeCrypto().createHash('sha256').update(bytes).digest('hex');
}

/**
 * An incremental sha256 with the part of node:crypto's Hash API the build
 * uses: what it is fed is kept in JS until it passes 64 KiB, then it all
 * goes to a node:crypto Hash.
 */
export class Sha256 {
  private parts: Uint8Array[] = [];
  private size = 0;
  private big: ReturnType<ReturnType<typeof nodeCrypto>['createHash']> | undefined;

  update(data: string | Uint8Array): this {
    const bytes = toBytes(data);
    if (this.big) {
      this.big.update(bytes);
      return this;
    }
    this.parts.push(bytes);
    this.size += bytes.length;
    if (this.size > SMALL) this.handOver();
    return this;
  }

  /** Move what was kept in JS to a node:crypto Hash, which takes everything after. */
  private handOver(): NonNullable<Sha256['big']> {
    const big = nodeCrypto().createHash('sha256');
    for (const p of this.parts) big.update(p);
    this.parts = [];
    this.big = big;
    return big;
  }

  /** The digest as lowercase hex; the hash is used up. */
  digest(_encoding: 'hex'): string {
    if (this.big) return this.big.digest('hex');
    if (!inJs(this.size)) return this.handOver().digest('hex');
    const all = new Uint8Array(this.size);
    let at = 0;
    for (const p of this.parts) {
      all.set(p, at);
      at += p.length;
    }
    this.parts = [];
    return smallDigest(all);
  }
}
