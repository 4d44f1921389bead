// A Debian-like base image for the pull benchmarks (bench/pull-many-files): tens of thousands of
// small files in a few layers, as real service images have (the random
// 200 MiB image of pull-push has 32 files and measures bytes, not files).
//
// Unlike bench/lib/bookworm.mjs (the real-service base: one layer, CA
// bundle added, the tree dropped once the layout is written), this keeps
// the debootstrap tree, because its images replicate /usr into several
// layers and build the 10- and 50-layer scaling images from it.
// The root file system comes from `debootstrap --variant=minbase bookworm`
// (Debian's package: scripts/install-deps.sh), made once and kept in a
// cache dir outside the per-run workspace (TSBUILD_BENCH_CACHE, default
// /var/tmp/tsbuild-bench-cache), because it takes minutes and needs the
// network. debootstrap writes into DIR.partial, renamed when it succeeded,
// so a killed run leaves nothing that looks complete.
//
// Layers are written with tar-stream from that tree (sorted, numeric ids,
// hard links as links, gzip level 6 like docker's), so the bytes do not
// depend on a tar binary. The layout of an image is cached next to the
// tree under a name that says its shape.
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { debootstrapBookworm } from './debootstrap.mjs';
import { writeImageLayout } from './inputs.mjs';

export const CACHE = process.env.TSBUILD_BENCH_CACHE ?? '/var/tmp/tsbuild-bench-cache';
/** Bumped when the layer recipe changes, so stale cached layouts are not reused. */
const RECIPE = 1;

/** The bookworm minbase tree, made on first use (minutes; needs the network). */
export async function bookwormRootfs() {
  const dir = join(CACHE, 'bookworm-minbase');
  if (existsSync(join(dir, 'etc/debian_version'))) return dir;
  const partial = `${dir}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(CACHE, { recursive: true });
  process.stderr.write(`bench: debootstrap --variant=minbase bookworm into ${dir} (once)\n`);
  await debootstrapBookworm(partial, join(CACHE, 'debootstrap.log'));
  renameSync(partial, dir);
  return dir;
}

/** Relative paths under `root/sub`, parents first, names sorted; /dev, /proc, /sys contents skipped (as in docker images). */
function walk(root, sub) {
  const out = [];
  if (!existsSync(join(root, sub))) return out; // a small tree (quick mode) may lack /usr/share or /var
  const visit = (rel) => {
    out.push(rel);
    const st = lstatSync(join(root, rel));
    if (!st.isDirectory() || ['dev', 'proc', 'sys'].includes(rel)) return;
    for (const name of readdirSync(join(root, rel)).sort()) visit(`${rel}/${name}`);
  };
  visit(sub);
  return out;
}

/**
 * One gzip layer of the entries `paths` (relative to `root`), each stored
 * under `prefix + path`, plus `extra` entries ({header, body}). Returns
 * {digest, size, diffId, files}.
 */
async function writeLayer(blobsDir, root, paths, { prefix = '', before = [], extra = [] } = {}) {
  const pack = tar.pack();
  const diff = createHash('sha256');
  const blob = createHash('sha256');
  let size = 0;
  const tmp = join(blobsDir, `tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const gzip = createGzip({ level: 6 });
  pack.on('data', (c) => diff.update(c));
  gzip.on('data', (c) => { blob.update(c); size += c.length; });
  const done = pipeline(pack, gzip, createWriteStream(tmp));
  // A file entry always gets a body: without one tar-stream waits for it to be written.
  const entry = (h, body) => new Promise((res, rej) => pack.entry(h, body ?? (h.type === 'file' ? Buffer.alloc(0) : undefined), (e) => (e ? rej(e) : res())));
  const seen = new Map(); // dev:ino → first name: later names are hard links
  let files = 0;
  for (const e of before) {
    await entry(e.header, e.body);
    files++;
  }
  for (const rel of paths) {
    const abs = join(root, rel);
    const st = lstatSync(abs);
    const name = `${prefix}${rel}`;
    const base = { name, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: new Date(Math.floor(st.mtimeMs / 1000) * 1000) };
    if (st.isDirectory()) await entry({ ...base, type: 'directory' });
    else if (st.isSymbolicLink()) await entry({ ...base, type: 'symlink', linkname: readlinkSync(abs) });
    else if (st.isFile()) {
      const key = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? seen.get(key) : undefined;
      if (first) await entry({ ...base, type: 'link', linkname: first });
      else {
        if (st.nlink > 1) seen.set(key, name);
        const body = readFileSync(abs);
        await entry({ ...base, type: 'file', size: body.length }, body);
      }
    } else continue; // sockets, fifos, devices: none in a minbase outside /dev
    files++;
  }
  for (const e of extra) {
    await entry(e.header, e.body);
    files++;
  }
  pack.finalize();
  await done;
  const digest = `sha256:${blob.digest('hex')}`;
  renameSync(tmp, join(blobsDir, digest.slice(7)));
  return { digest, size, diffId: `sha256:${diff.digest('hex')}`, files };
}


/** Writes config, manifest, index.json and oci-layout for `layers`; returns {bytes, files, layers}. */
function finishLayout(dir, layers, { tag, name, what }) {
  writeImageLayout(dir, {
    config: { Cmd: ['/bin/sh'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
    layers,
    createdBy: `tsbuild bench: ${what}`,
    tag,
    name,
  });
  const summary = { bytes: layers.reduce((a, d) => a + d.size, 0), files: layers.reduce((a, d) => a + d.files, 0), layers: layers.length };
  writeFileSync(join(dir, 'summary.json'), JSON.stringify(summary));
  return summary;
}

/**
 * Builds the layout in DIR.partial with `make(blobsDir)` → layers, unless DIR
 * is complete already. DIR is in the cache, or `opts.dir` for a layout made
 * from another tree (quick mode), which is not kept.
 */
async function cachedLayout(key, opts, make) {
  const dir = opts.dir ?? join(CACHE, `layout-${key}-r${RECIPE}`);
  if (existsSync(join(dir, 'summary.json'))) return { dir, ...JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) };
  const partial = `${dir}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(join(partial, 'blobs/sha256'), { recursive: true });
  const t0 = performance.now();
  const layers = await make(join(partial, 'blobs/sha256'));
  const summary = finishLayout(partial, layers, opts);
  renameSync(partial, dir);
  process.stderr.write(`bench: ${key}: ${summary.layers} layers, ${summary.files} entries, ${(summary.bytes / 2 ** 20).toFixed(0)} MiB compressed, made in ${((performance.now() - t0) / 1000).toFixed(1)} s (cached in ${dir})\n`);
  return { dir, ...summary };
}

/**
 * The many-files image: the bookworm tree in three layers (everything but
 * /usr and /var; /usr except /usr/share; /usr/share and /var), then
 * `replicas` layers each holding a copy of /usr under /opt/replica-N (what
 * a runtime or toolchain adds: tens of thousands of small files), and a
 * last small layer with a whiteout and an opaque directory. Returns {dir,
 * bytes, files, layers}; the layout is tagged `tag`. `root` and `dir`:
 * another tree (quick mode: the busybox rootfs) into an uncached layout.
 */
export async function bookwormLayout({ replicas = 1, tag = '1', name, root: tree, dir } = {}) {
  const root = tree ?? await bookwormRootfs();
  return cachedLayout(`bookworm-x${replicas}`, { tag, name, dir, what: 'bookworm minbase layer' }, async (blobs) => {
    const top = readdirSync(root).sort().filter((n) => n !== 'usr' && n !== 'var');
    const usr = readdirSync(join(root, 'usr')).sort().filter((n) => n !== 'share');
    const layers = [
      await writeLayer(blobs, root, top.flatMap((n) => walk(root, n))),
      await writeLayer(blobs, root, ['usr', ...usr.flatMap((n) => walk(root, `usr/${n}`))]),
      await writeLayer(blobs, root, [...walk(root, 'usr/share'), ...walk(root, 'var')]),
    ];
    for (let i = 0; i < replicas; i++) {
      const before = ['opt/', `opt/replica-${i}/`].map((n) => ({ header: { name: n, type: 'directory', mode: 0o755, mtime: new Date(0) } }));
      layers.push(await writeLayer(blobs, root, walk(root, 'usr'), { prefix: `opt/replica-${i}/`, before }));
    }
    const now = new Date(0);
    layers.push(await writeLayer(blobs, root, [], {
      extra: [
        { header: { name: 'etc/', type: 'directory', mode: 0o755, mtime: now } },
        { header: { name: 'etc/.wh.motd', type: 'file', mode: 0o600, size: 0, mtime: now } },
        { header: { name: 'var/cache/apt/', type: 'directory', mode: 0o755, mtime: now } },
        { header: { name: 'var/cache/apt/.wh..wh..opq', type: 'file', mode: 0o600, size: 0, mtime: now } },
        { header: { name: 'etc/hostname', type: 'file', mode: 0o644, size: 6, mtime: now }, body: Buffer.from('bench\n') },
      ],
    }));
    return layers;
  });
}

/**
 * The scaling image: `layers` layers of `filesPerLayer` files (copies of
 * bookworm's /usr/share/doc, so they compress like real ones; of any file
 * of `root` when given), each layer in its own directory. Returns {dir,
 * bytes, files, layers}.
 */
export async function manyLayersLayout({ layers = 50, filesPerLayer = 200, tag = '1', name, root: tree, dir } = {}) {
  const root = tree ?? await bookwormRootfs();
  return cachedLayout(`layers-${layers}x${filesPerLayer}`, { tag, name, dir, what: 'scaling layer' }, async (blobs) => {
    const docs = walk(root, tree ? '.' : 'usr/share/doc').filter((p) => { const st = lstatSync(join(root, p)); return st.isFile() && (!tree || st.size < 64 << 10); });
    const out = [];
    for (let i = 0; i < layers; i++) {
      const picked = Array.from({ length: filesPerLayer }, (_, k) => docs[(i * filesPerLayer + k) % docs.length]);
      const now = new Date(0);
      const extra = [{ header: { name: `layer${i}/`, type: 'directory', mode: 0o755, mtime: now } }];
      picked.forEach((p, k) => {
        const body = readFileSync(join(root, p));
        extra.push({ header: { name: `layer${i}/f${k}`, type: 'file', mode: 0o644, size: body.length, mtime: now }, body });
      });
      out.push(await writeLayer(blobs, root, [], { extra }));
    }
    return out;
  });
}
