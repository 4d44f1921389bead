// `tsbuild build -` : what arrives on stdin, as docker and buildx read it.
// A tar (plain, gzip, bzip2, xz or zstd, told by its first bytes) is the
// build context; anything else is a Containerfile, and the build then has no
// context at all (an empty directory: COPY of a local path fails, saying
// why). `-f -` reads only a Containerfile (readStdinText).
//
// Owns the temp directory this needs: ROOT/tmp/context-<pid>-<rand>, so a
// tsbuild killed with -9 leaves garbage that the next start's store clean
// removes (it drops entries of dead pids), and `dispose` removes it after the
// build, on failure too. The tar is spooled to a file in that directory first
// (telling bzip2/xz from text needs a decode, and the unpacker wants a file)
// and unpacked with the layer unpacker, whose every write goes through
// openat2(RESOLVE_IN_ROOT): `../x` entries, absolute names and entries below a
// symlink that points out all land inside the context directory.
import { closeSync, createWriteStream, mkdirSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TsbuildError } from '../../errors.js';
import { tempName } from '../../store/blobs.js';
import { archiveCompression, compressionOf, extractArchive } from '../copy/archive.js';

export interface StdinInput {
  /** The build context: the unpacked tar, or an empty directory. */
  contextDir: string;
  /** Set when stdin was a Containerfile (and so there is no context). */
  containerfileText?: string;
  /** Remove the temp directory; idempotent and synchronous (it runs from signal handlers too). */
  dispose(): void;
}

function readHead(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(8);
    return head.subarray(0, readSync(fd, head, 0, head.length, 0));
  } finally {
    closeSync(fd);
  }
}

/** How errors and progress name the Containerfile read from stdin. */
export const STDIN_NAME = '<stdin>';

/** All of stdin as text (a Containerfile for `-f -`). */
export async function readStdinText(stdin: Readable): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of stdin) parts.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(parts).toString('utf8');
}

/**
 * Read stdin into a context under `tmpDir` (the store's tmp, which exists).
 * `onTempDir` learns the temp directory before anything is written to it,
 * so an interrupt mid-read can remove it.
 */
export async function readStdinContext(stdin: Readable, tmpDir: string, onTempDir: (dispose: () => void) => void = () => {}): Promise<StdinInput> {
  const work = join(tmpDir, tempName('context'));
  const dispose = (): void => rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { mode: 0o700 });
  onTempDir(dispose);
  try {
    const spool = join(work, 'stdin');
    const contextDir = join(work, 'context');
    mkdirSync(contextDir, { mode: 0o755 });
    await pipeline(stdin, createWriteStream(spool, { mode: 0o600 }));
    const compression = await archiveCompression(spool);
    if (compression === null) {
      const head = readHead(spool);
      if (compressionOf(head) !== 'none') {
        throw new TsbuildError('E_BAD_CONTEXT', `the build context on stdin is ${compressionOf(head)}-compressed but not a tar archive`);
      }
      const containerfileText = readFileSync(spool, 'utf8');
      rmSync(spool);
      return { contextDir, containerfileText, dispose };
    }
    await extractArchive(spool, compression, contextDir, 'the build context on stdin');
    rmSync(spool);
    return { contextDir, dispose };
  } catch (err) {
    dispose();
    throw err;
  }
}
