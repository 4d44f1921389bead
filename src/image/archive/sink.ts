// Where `save` writes: an OCI layout directory, or a tar file built with
// tar-stream. Both are written so that a failure leaves no half-made output:
// directory blobs are renamed into place (content-addressed, so an existing
// one is kept), and a tar is written to a temp name beside its destination
// and renamed when complete.
import { nodeCrypto } from '../../node-crypto.js';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { cleanTarPath } from '../../store/codec/unpack.js';

export interface ArchiveSink {
  /** Whether a file is already there (dir sinks skip rewriting blobs). */
  has(name: string, size: number): Promise<boolean>;
  addBuffer(name: string, data: Buffer): Promise<void>;
  addStream(name: string, size: number, data: Readable): Promise<void>;
  /** Make the output visible; after this the sink is spent. */
  commit(): Promise<void>;
  /** Remove partial output. */
  abort(): Promise<void>;
}

const MTIME = new Date(0); // reproducible archives: the content is what matters

function tmpBeside(path: string): string {
  return join(dirname(path), `.${nodeCrypto().randomBytes(6).toString('hex')}.tsbuild-tmp`);
}

export class DirSink implements ArchiveSink {
  constructor(private readonly dir: string) {}

  async has(name: string, size: number): Promise<boolean> {
    try {
      return (await stat(join(this.dir, cleanTarPath(name)))).size === size;
    } catch {
      return false;
    }
  }

  private async place(name: string, write: (tmp: string) => Promise<void>): Promise<void> {
    const dest = join(this.dir, cleanTarPath(name));
    await mkdir(dirname(dest), { recursive: true });
    const tmp = tmpBeside(dest);
    try {
      await write(tmp);
      const fh = await open(tmp, 'r+');
      await fh.sync().finally(() => fh.close());
      await rename(tmp, dest);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  addBuffer(name: string, data: Buffer): Promise<void> {
    return this.place(name, (tmp) => writeFile(tmp, data, { mode: 0o644 }));
  }

  addStream(name: string, _size: number, data: Readable): Promise<void> {
    return this.place(name, (tmp) => pipeline(data, createWriteStream(tmp, { mode: 0o644 })));
  }

  async commit(): Promise<void> {}
  async abort(): Promise<void> {}
}

export class TarSink implements ArchiveSink {
  private readonly pack = tar.pack();
  private readonly tmp: string;
  private readonly written: Promise<void>;
  private readonly dirs = new Set<string>();
  private readonly names = new Set<string>();

  constructor(private readonly dest: string) {
    this.tmp = tmpBeside(dest);
    this.written = pipeline(this.pack as unknown as Readable, createWriteStream(this.tmp, { mode: 0o644 }));
    this.written.catch(() => undefined);
  }

  async has(name: string): Promise<boolean> {
    return this.names.has(cleanTarPath(name));
  }

  /** Parent directory entries first, as tar tools write them. */
  private async parents(name: string): Promise<void> {
    const parts = name.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (this.dirs.has(d)) continue;
      this.dirs.add(d);
      await new Promise<void>((res, rej) => this.pack.entry({ name: `${d}/`, type: 'directory', mode: 0o755, mtime: MTIME }, (e) => (e ? rej(e) : res())));
    }
  }

  async addBuffer(name: string, data: Buffer): Promise<void> {
    const n = cleanTarPath(name);
    await this.parents(n);
    this.names.add(n);
    await new Promise<void>((res, rej) => this.pack.entry({ name: n, size: data.length, mode: 0o644, mtime: MTIME }, data, (e) => (e ? rej(e) : res())));
  }

  async addStream(name: string, size: number, data: Readable): Promise<void> {
    const n = cleanTarPath(name);
    await this.parents(n);
    this.names.add(n);
    let done!: (e?: Error | null) => void;
    const finished = new Promise<void>((res, rej) => { done = (e) => (e ? rej(e) : res()); });
    const entry = this.pack.entry({ name: n, size, mode: 0o644, mtime: MTIME }, (e) => done(e));
    try {
      for await (const chunk of data) {
        if (!entry.write(chunk as Buffer)) await new Promise<void>((res) => entry.once('drain', () => res()));
      }
      (entry as unknown as { end(): void }).end();
    } catch (err) {
      entry.destroy(err as Error);
      throw err;
    }
    await finished;
  }

  async commit(): Promise<void> {
    this.pack.finalize();
    await this.written;
    const fh = await open(this.tmp, 'r+');
    await fh.sync().finally(() => fh.close());
    await rename(this.tmp, this.dest);
  }

  async abort(): Promise<void> {
    this.pack.destroy();
    await this.written.catch(() => undefined);
    await rm(this.tmp, { force: true });
  }
}
