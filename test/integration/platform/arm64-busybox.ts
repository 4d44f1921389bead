// The arm64 half of the multi-platform fixtures: Debian's busybox-static:arm64
// (`apt-get download`, which needs `dpkg --add-architecture arm64` and an
// apt-get update: scripts/install-deps.sh does both), its .deb unpacked here
// (ar members read by hand, data.tar.xz through xz and tar-stream), and a
// root filesystem like the amd64 one with the arm64 busybox in it. Also the
// binfmt_misc mount the emulated RUN steps need (test setup, not product).
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { extract } from 'tar-stream';
import { busyboxRootfs, fixturesDir } from '../fixtures.js';

/** The members of an ar(1) archive (a .deb). */
export function arMembers(buf: Buffer): Map<string, Buffer> {
  if (buf.subarray(0, 8).toString('latin1') !== '!<arch>\n') throw new Error('not an ar archive');
  const out = new Map<string, Buffer>();
  let off = 8;
  while (off + 60 <= buf.length) {
    const name = buf.subarray(off, off + 16).toString('latin1').trim().replace(/\/$/, '');
    const size = Number(buf.subarray(off + 48, off + 58).toString('latin1').trim());
    out.set(name, buf.subarray(off + 60, off + 60 + size));
    off += 60 + size + (size % 2);
  }
  return out;
}

/** The file at `path` (e.g. ./bin/busybox) in a tar. */
async function fileFromTar(tar: Buffer, path: string): Promise<Buffer> {
  const ex = extract();
  let found: Buffer | undefined;
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => { if (header.name === path) chunks.push(c); });
      stream.on('end', () => { if (header.name === path) found = Buffer.concat(chunks); next(); });
      stream.resume();
    });
    ex.on('finish', () => resolve());
    ex.on('error', reject);
  });
  ex.end(tar);
  await done;
  if (!found) throw new Error(`${path} not in the tar`);
  return found;
}

function debFile(): string {
  const dir = join(fixturesDir, 'deb-arm64');
  mkdirSync(dir, { recursive: true });
  const have = () => readdirSync(dir).find((f) => f.startsWith('busybox-static_') && f.endsWith('_arm64.deb'));
  if (!have()) execFileSync('apt-get', ['download', 'busybox-static:arm64'], { cwd: dir, stdio: 'pipe' });
  return join(dir, have() as string);
}

/** A busybox rootfs like busyboxRootfs with the arm64 busybox; made once per run. */
export async function arm64BusyboxRootfs(): Promise<string> {
  const dir = join(fixturesDir, 'busybox-rootfs-arm64');
  if (existsSync(join(dir, 'bin/busybox'))) return dir;
  const members = arMembers(readFileSync(debFile()));
  const data = members.get('data.tar.xz');
  if (!data) throw new Error('busybox-static:arm64 .deb has no data.tar.xz');
  const tar = execFileSync('xz', ['-dc'], { input: data, maxBuffer: 1 << 28 });
  const busybox = await fileFromTar(tar, './bin/busybox');
  rmSync(dir, { recursive: true, force: true });
  cpSync(busyboxRootfs, dir, { recursive: true, verbatimSymlinks: true });
  writeFileSync(join(dir, 'bin/busybox'), busybox);
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  return dir;
}

/** binfmt_misc mounted and Debian's qemu-aarch64 handler enabled (the F flag makes it work in containers). */
export function ensureBinfmt(): void {
  const dir = '/proc/sys/fs/binfmt_misc';
  if (!existsSync(join(dir, 'status'))) execFileSync('mount', ['-t', 'binfmt_misc', 'binfmt_misc', dir]);
  if (!existsSync(join(dir, 'qemu-aarch64'))) execFileSync('update-binfmts', ['--enable', 'qemu-aarch64'], { stdio: 'pipe' });
}
