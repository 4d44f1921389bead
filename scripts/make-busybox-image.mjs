#!/usr/bin/env node
// Makes a busybox base image from Debian's busybox-static: a root filesystem
// (busybox plus one symlink per applet, /etc/passwd and /etc/group) written
// as a one-layer OCI image layout, named docker.io/library/busybox:stable.
// Used by the example and the benchmarks; no network needed.
//   node scripts/make-busybox-image.mjs LAYOUT_DIR [ROOTFS_DIR]
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';

export function makeBusyboxRootfs(dir) {
  rmSync(dir, { recursive: true, force: true });
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'tmp', 'root', 'proc', 'sys', 'dev', 'var', 'home']) mkdirSync(join(dir, d), { recursive: true });
  chmodSync(join(dir, 'tmp'), 0o1777);
  copyFileSync('/bin/busybox', join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  for (const applet of execFileSync('/bin/busybox', ['--list-full'], { encoding: 'utf8' }).split('\n').filter(Boolean)) {
    const p = join(dir, applet);
    if (applet === 'bin/busybox' || existsSync(p)) continue;
    mkdirSync(join(p, '..'), { recursive: true });
    symlinkSync('/bin/busybox', p);
  }
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nalice:x:1000:1000:alice:/home/alice:/bin/sh\n');
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\ndaemon:x:1:\nstaff:x:50:alice\nnogroup:x:65534:\nalice:x:1000:\n');
}

export async function tarOf(dir) {
  const pack = tar.pack();
  const chunks = [];
  pack.on('data', (c) => chunks.push(c));
  const done = new Promise((resolve) => pack.on('end', resolve));
  const walk = async (rel) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const full = join(dir, path);
      const st = lstatSync(full);
      const h = { name: path, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: new Date(0) };
      if (st.isDirectory()) {
        pack.entry({ ...h, type: 'directory' });
        await walk(path);
      } else if (st.isSymbolicLink()) pack.entry({ ...h, type: 'symlink', linkname: readlinkSync(full) });
      else pack.entry({ ...h, type: 'file', size: st.size }, readFileSync(full));
    }
  };
  await walk('');
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

const sha = (b) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export async function writeBusyboxLayout(layoutDir, rootfsDir = `${layoutDir}.rootfs`) {
  makeBusyboxRootfs(rootfsDir);
  const layer = await tarOf(rootfsDir);
  const gz = gzipSync(layer);
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', created: '1970-01-01T00:00:00Z',
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'] },
    rootfs: { type: 'layers', diff_ids: [sha(layer)] },
    history: [{ created: '1970-01-01T00:00:00Z', created_by: 'busybox-static from Debian' }],
  }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(gz), size: gz.length }],
  }));
  rmSync(layoutDir, { recursive: true, force: true });
  mkdirSync(join(layoutDir, 'blobs/sha256'), { recursive: true });
  for (const b of [gz, config, manifest]) writeFileSync(join(layoutDir, 'blobs/sha256', sha(b).slice(7)), b);
  writeFileSync(join(layoutDir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(layoutDir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(manifest), size: manifest.length,
      annotations: { 'org.opencontainers.image.ref.name': 'stable', 'io.containerd.image.name': 'docker.io/library/busybox:stable' } }],
  }));
  return { rootfsDir, layoutDir };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [layout, rootfs] = process.argv.slice(2);
  if (!layout) {
    process.stderr.write('usage: make-busybox-image.mjs LAYOUT_DIR [ROOTFS_DIR]\n');
    process.exit(2);
  }
  await writeBusyboxLayout(layout, rootfs);
}
