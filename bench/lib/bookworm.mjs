// The Debian bookworm base of the real-service benchmark (and of anyone who
// needs a real distribution image rather than busybox): made once with
// debootstrap --variant=minbase from Debian's packages, written as a
// one-layer OCI image layout, and cached under a fixtures dir that outlives
// workspaces (BENCH_FIXTURES, default /var/cache/tsbuild-bench), keyed by
// the recipe, the mirror and the host's CA bundle.
//
// Why the CA bundle: package managers here reach PyPI, npm and the Go proxy
// through a TLS-intercepting proxy whose CA the host trusts. A builder on a
// stock base fails (pip: CERTIFICATE_VERIFY_FAILED) until the image carries
// that CA, as a corporate base image would. So the host's bundle goes to
// /etc/ssl/certs/ca-certificates.crt (what Go, curl, pip, npm read), and to
// /usr/local/share/ca-certificates/ so that an `apt-get install
// ca-certificates` in a builder (update-ca-certificates rebuilds the bundle)
// keeps it; the image's Env points the tools at it as the host's does, and
// carries the host's *_proxy variables, if it has any.
//
//   import { bookwormLayout, pushBookworm } from './lib/bookworm.mjs';
//   const layout = await bookwormLayout();            // cached OCI layout dir
//   const ref = await pushBookworm(env);              // "127.0.0.1:PORT/bookworm:latest"
//   node bench/lib/bookworm.mjs                       // make (or find) the cached layout, print its path
import { createHash } from 'node:crypto';
import { closeSync, copyFileSync, createReadStream, createWriteStream, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pipeline } from 'node:stream/promises';
import { createGzip, constants as zlib } from 'node:zlib';
import * as tar from 'tar-stream';
import { alive } from '../../scripts/lib/teardown.mjs';
import { debootstrapBookworm, MIRROR } from './debootstrap.mjs';
import { Tsbuild } from './tsbuild.mjs';
import { removeDir, unmountUnder } from './workspace.mjs';

export const FIXTURES = process.env.BENCH_FIXTURES ?? '/var/cache/tsbuild-bench';
export const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
/** The name the layout carries (what `tsbuild load` tags it as). */
export const LOCAL_NAME = 'localhost/bench/bookworm:minbase';
/** Bump when the recipe changes, so that every machine remakes its cached base. */
const RECIPE = 'bookworm-minbase-v1';

const CA_PATH = '/etc/ssl/certs/ca-certificates.crt';
/** The variables the host uses to point its tools at the CA bundle; the image sets the same. */
const CA_ENV = ['SSL_CERT_FILE', 'NODE_EXTRA_CA_CERTS', 'PIP_CERT', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'GIT_SSL_CAINFO'];
const PROXY_ENV = ['http_proxy', 'https_proxy', 'no_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY'];

/** The image's Env: Debian's PATH, the CA variables and whatever proxy the host is told to use. */
export function imageEnv(hostEnv = process.env) {
  const env = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];
  for (const k of CA_ENV) env.push(`${k}=${CA_PATH}`);
  for (const k of PROXY_ENV) if (hostEnv[k]) env.push(`${k}=${hostEnv[k]}`);
  return env;
}

/** The cache key: recipe, mirror, the host's CA bundle and proxy settings. */
export function cacheKey() {
  const h = createHash('sha256').update(`${RECIPE}\n${MIRROR}\n${imageEnv().join('\n')}\n`);
  h.update(readFileSync(HOST_CA_BUNDLE));
  return h.digest('hex').slice(0, 12);
}

/** Where the cached layout lives (it may not exist yet). */
export function bookwormDir() {
  return join(FIXTURES, `bookworm-${cacheKey()}`);
}

/**
 * The cached OCI layout dir of the base, made first if missing (several
 * minutes: debootstrap downloads about 40 MB). Concurrent callers (two
 * benchmarks, two engineers) wait on a lock file rather than both making it.
 */
export async function bookwormLayout({ log = (s) => process.stderr.write(`bench: ${s}\n`) } = {}) {
  const dir = bookwormDir();
  const layout = join(dir, 'layout');
  if (existsSync(join(layout, 'index.json'))) return layout;
  mkdirSync(FIXTURES, { recursive: true });
  const lock = `${dir}.lock`;
  for (;;) {
    try {
      closeSync(openSync(lock, 'wx'));
      writeFileSync(lock, String(process.pid));
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      const owner = Number(readFileSync(lock, 'utf8')) || 0;
      if (owner > 0 && !alive(owner)) { rmSync(lock, { force: true }); continue; }
      await sleep(2000);
      if (existsSync(join(layout, 'index.json'))) return layout;
    }
  }
  try {
    if (existsSync(join(layout, 'index.json'))) return layout;
    const work = `${dir}.tmp-${process.pid}`;
    const rootfs = join(work, 'rootfs');
    removeDir(work);
    mkdirSync(work, { recursive: true });
    try {
      log(`making the bookworm base with debootstrap (${MIRROR}) in ${work}; cached afterwards in ${dir}`);
      const t0 = performance.now();
      await debootstrapBookworm(rootfs, join(work, 'debootstrap.log'));
      customise(rootfs);
      const tmpLayout = join(work, 'layout');
      const { size } = await writeLayout(rootfs, tmpLayout);
      removeDir(rootfs);
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      renameSync(join(work, 'debootstrap.log'), join(dir, 'debootstrap.log'));
      renameSync(tmpLayout, layout);
      log(`bookworm base: ${(size / 2 ** 20).toFixed(1)} MiB compressed, made in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    } finally {
      unmountUnder(work);
      removeDir(work);
    }
    return layout;
  } finally {
    rmSync(lock, { force: true });
  }
}

/** The CA bundle, apt's leftovers out, the host's resolver files out (runtimes provide them). */
function customise(rootfs) {
  mkdirSync(join(rootfs, 'etc/ssl/certs'), { recursive: true });
  copyFileSync(HOST_CA_BUNDLE, join(rootfs, CA_PATH));
  mkdirSync(join(rootfs, 'usr/local/share/ca-certificates'), { recursive: true });
  copyFileSync(HOST_CA_BUNDLE, join(rootfs, 'usr/local/share/ca-certificates/host-bundle.crt'));
  for (const d of ['var/cache/apt/archives', 'var/lib/apt/lists']) {
    const p = join(rootfs, d);
    if (!existsSync(p)) continue;
    for (const name of readdirSync(p)) if (name !== 'partial' && name !== 'lock') rmSync(join(p, name), { recursive: true, force: true });
  }
  for (const f of ['var/cache/apt/pkgcache.bin', 'var/cache/apt/srcpkgcache.bin', 'etc/resolv.conf', 'etc/hostname']) rmSync(join(rootfs, f), { force: true });
  rmSync(join(rootfs, 'debootstrap'), { recursive: true, force: true });
}

/** Mount points whose content a runtime provides: kept as empty dirs in the layer. */
const EMPTY_DIRS = new Set(['dev', 'proc', 'sys', 'run', 'tmp']);

/** Streams `rootfs` into `pack` as a tar: hard links as links, device nodes, fifos and sockets left out. */
async function packTree(pack, rootfs) {
  const entry = (h) => new Promise((res, rej) => pack.entry(h, (e) => (e ? rej(e) : res())));
  const inodes = new Map();
  const walk = async (rel) => {
    for (const name of readdirSync(join(rootfs, rel)).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const full = join(rootfs, path);
      const st = lstatSync(full);
      const h = { name: path, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime };
      if (st.isDirectory()) {
        await entry({ ...h, type: 'directory' });
        if (!(rel === '' && EMPTY_DIRS.has(name))) await walk(path);
      } else if (st.isSymbolicLink()) {
        await entry({ ...h, type: 'symlink', linkname: readlinkSync(full) });
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        if (st.nlink > 1 && inodes.has(key)) {
          await entry({ ...h, type: 'link', linkname: inodes.get(key) });
          continue;
        }
        if (st.nlink > 1) inodes.set(key, path);
        await new Promise((res, rej) => {
          const s = pack.entry({ ...h, type: 'file', size: st.size }, (e) => (e ? rej(e) : res()));
          createReadStream(full).on('error', rej).pipe(s);
        });
      }
    }
  };
  await walk('');
  pack.finalize();
}

const sha = (b) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Writes `rootfs` as a one-layer OCI layout named LOCAL_NAME; returns {digest, size}. */
export async function writeLayout(rootfs, dir) {
  const blobs = join(dir, 'blobs/sha256');
  mkdirSync(blobs, { recursive: true });
  const pack = tar.pack();
  const diff = createHash('sha256');
  const blob = createHash('sha256');
  let size = 0;
  const tmp = join(blobs, 'layer.tmp');
  const gzip = createGzip({ level: zlib.Z_DEFAULT_COMPRESSION });
  pack.on('data', (c) => diff.update(c));
  gzip.on('data', (c) => { blob.update(c); size += c.length; });
  const done = pipeline(pack, gzip, createWriteStream(tmp));
  await Promise.all([packTree(pack, rootfs), done]);
  const digest = `sha256:${blob.digest('hex')}`;
  renameSync(tmp, join(blobs, digest.slice(7)));
  const created = new Date().toISOString();
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', created,
    config: { Env: imageEnv(), Cmd: ['bash'] },
    rootfs: { type: 'layers', diff_ids: [`sha256:${diff.digest('hex')}`] },
    history: [{ created, created_by: `debootstrap --variant=minbase bookworm ${MIRROR}; host CA bundle added (tsbuild bench)` }],
  }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest, size }],
  }));
  for (const b of [config, manifest]) writeFileSync(join(blobs, sha(b).slice(7)), b);
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(manifest), size: manifest.length,
      annotations: { 'org.opencontainers.image.ref.name': 'minbase', 'io.containerd.image.name': LOCAL_NAME } }],
  }));
  return { digest, size };
}

/**
 * Puts the base into the scenario's registry, pushed by tsbuild from a
 * store of its own (so the scenario's stores stay empty), and returns the
 * reference every builder uses in FROM: "127.0.0.1:PORT/bookworm:latest".
 */
export async function pushBookworm(env, { name = 'bookworm:latest' } = {}) {
  const layout = await bookwormLayout();
  const pusher = new Tsbuild(env.ws.path('bookworm-push-root'));
  const ref = `${env.registry.host}/${name}`;
  try {
    await pusher.cmd(['load', '-i', layout]);
    await pusher.cmd(['push', '-q', LOCAL_NAME, ref]);
  } finally {
    pusher.wipe();
  }
  return ref;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`${await bookwormLayout()}\n`);
}
