// The arm64 busybox of the multi-platform tests and benchmark: Debian's
// busybox-static:arm64 .deb (`apt-get download`, which needs `dpkg
// --add-architecture arm64` and an apt-get update, as scripts/install-deps.sh
// does), unpacked here (ar members read by hand, data.tar.xz through xz and
// tar-stream), put into a copy of the amd64 busybox rootfs; and the
// binfmt_misc mount that emulated RUN steps need (setup, not the product).
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';

/** The members of an ar(1) archive (a .deb), by name. */
export function arMembers(buf) {
  if (buf.subarray(0, 8).toString('latin1') !== '!<arch>\n') throw new Error('not an ar archive');
  const out = new Map();
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
async function fileFromTar(buf, path) {
  const ex = tar.extract();
  let found;
  const done = new Promise((resolve, reject) => {
    ex.on('entry', (header, stream, next) => {
      const chunks = [];
      stream.on('data', (c) => { if (header.name === path) chunks.push(c); });
      stream.on('end', () => { if (header.name === path) found = Buffer.concat(chunks); next(); });
      stream.resume();
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  ex.end(buf);
  await done;
  if (!found) throw new Error(`${path} not in the tar`);
  return found;
}

/** The .deb in `dir`, downloaded there first if missing. */
function debFile(dir) {
  mkdirSync(dir, { recursive: true });
  const have = () => readdirSync(dir).find((f) => f.startsWith('busybox-static_') && f.endsWith('_arm64.deb'));
  if (!have()) execFileSync('apt-get', ['download', 'busybox-static:arm64'], { cwd: dir, stdio: 'pipe' });
  return join(dir, have());
}

/** `amd64Rootfs` copied to `dir` with the arm64 busybox in it; the .deb is kept in `debDir`. */
export async function writeArm64BusyboxRootfs(dir, amd64Rootfs, debDir) {
  if (existsSync(join(dir, 'bin/busybox'))) return dir;
  const data = arMembers(readFileSync(debFile(debDir))).get('data.tar.xz');
  if (!data) throw new Error('busybox-static:arm64 .deb has no data.tar.xz');
  const busybox = await fileFromTar(execFileSync('xz', ['-dc'], { input: data, maxBuffer: 1 << 28 }), './bin/busybox');
  rmSync(dir, { recursive: true, force: true });
  cpSync(amd64Rootfs, dir, { recursive: true, verbatimSymlinks: true });
  writeFileSync(join(dir, 'bin/busybox'), busybox);
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  return dir;
}

/** binfmt_misc mounted and Debian's qemu-aarch64 handler enabled (its F flag makes it work in containers). */
export function ensureBinfmt() {
  const dir = '/proc/sys/fs/binfmt_misc';
  if (!existsSync(join(dir, 'status'))) execFileSync('mount', ['-t', 'binfmt_misc', 'binfmt_misc', dir]);
  if (!existsSync(join(dir, 'qemu-aarch64'))) execFileSync('update-binfmts', ['--enable', 'qemu-aarch64'], { stdio: 'pipe' });
}

const sha = (b) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** An OCI layout whose tag `multi` is an index of a busybox image per rootfs ({amd64: dir, arm64: dir}). */
export async function writeMultiArchLayout(layoutDir, rootfsByArch) {
  const { tarOf } = await import('../make-busybox-image.mjs');
  rmSync(layoutDir, { recursive: true, force: true });
  mkdirSync(join(layoutDir, 'blobs/sha256'), { recursive: true });
  const put = (b) => { writeFileSync(join(layoutDir, 'blobs/sha256', sha(b).slice(7)), b); return { digest: sha(b), size: b.length }; };
  const manifests = [];
  for (const [arch, dir] of Object.entries(rootfsByArch)) {
    const layer = await tarOf(dir);
    const gz = gzipSync(layer);
    const config = Buffer.from(JSON.stringify({
      architecture: arch, os: 'linux', ...(arch === 'arm64' ? { variant: 'v8' } : {}), created: '1970-01-01T00:00:00Z',
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'] },
      rootfs: { type: 'layers', diff_ids: [sha(layer)] },
      history: [{ created: '1970-01-01T00:00:00Z', created_by: 'busybox-static from Debian' }],
    }));
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...put(config) },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...put(gz) }],
    }));
    manifests.push({ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...put(manifest), platform: { os: 'linux', architecture: arch, ...(arch === 'arm64' ? { variant: 'v8' } : {}) } });
  }
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
  writeFileSync(join(layoutDir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(layoutDir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', ...put(index), annotations: { 'org.opencontainers.image.ref.name': 'multi' } }] }));
}
