// Digests and the verifying reader. Owns the one rule that makes the store
// trustworthy: bytes are only handed on as `sha256:<hex>` once the hash of
// exactly those bytes has been checked (containers/image's digesting reader:
// the check happens at EOF, so a consumer that reads to the end has either
// received the right content or an error).
import type { Hash } from 'node:crypto';
import { nodeCrypto } from '../node-crypto.js';
import { sha256Hex } from '../sha256.js';
import { Transform, type TransformCallback } from 'node:stream';
import { TsbuildError } from '../errors.js';

const SHA256_RE = /^sha256:([a-f0-9]{64})$/;

/** The hex part of a sha256 digest; throws E_BAD_DIGEST for anything else. */
export function digestHex(digest: string): string {
  const m = SHA256_RE.exec(digest);
  if (!m) throw new TsbuildError('E_BAD_DIGEST', `invalid digest "${digest}": expected sha256:<64 lowercase hex>`);
  return m[1] as string;
}

export function isDigest(s: string): boolean {
  return SHA256_RE.test(s);
}

export function sha256Of(data: Uint8Array): string {
  return `sha256:${sha256Hex(data)}`;
}

/** The error every digest or size check throws; it always names the expected digest. */
export function digestMismatch(what: string, expected: { digest?: string; size?: number }, actual: { digest?: string; size: number }): TsbuildError {
  const want = expected.digest ?? '(any digest)';
  const sizePart = expected.size !== undefined && expected.size !== actual.size ? `, expected size ${expected.size} but got ${actual.size} bytes` : '';
  const digestPart = actual.digest && expected.digest && actual.digest !== expected.digest ? `, content hashes to ${actual.digest}` : '';
  return new TsbuildError('E_DIGEST_MISMATCH', `${what}: digest mismatch for ${want}${digestPart}${sizePart}`);
}

/** Hashes and counts bytes passing through; `digest()` is valid after the end. */
export class HashingTransform extends Transform {
  private readonly hash: Hash = nodeCrypto().createHash('sha256');
  bytes = 0;
  private final: string | undefined;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }

  /** `sha256:<hex>` of everything that passed (call once the stream ended). */
  digest(): string {
    this.final ??= `sha256:${this.hash.digest('hex')}`;
    return this.final;
  }
}

/**
 * A pass-through that errors with E_DIGEST_MISMATCH at EOF (or as soon as
 * more than `size` bytes arrive) unless the stream hashes to `digest`.
 */
export class VerifyingTransform extends Transform {
  private readonly hash: Hash = nodeCrypto().createHash('sha256');
  private bytes = 0;

  constructor(private readonly what: string, private readonly expected: { digest: string; size?: number }) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.expected.size !== undefined && this.bytes > this.expected.size) {
      cb(digestMismatch(this.what, this.expected, { size: this.bytes }));
      return;
    }
    this.hash.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    const got = `sha256:${this.hash.digest('hex')}`;
    if (got !== this.expected.digest || (this.expected.size !== undefined && this.bytes !== this.expected.size)) {
      cb(digestMismatch(this.what, this.expected, { digest: got, size: this.bytes }));
      return;
    }
    cb();
  }
}
