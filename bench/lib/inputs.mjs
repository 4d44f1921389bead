// Generated inputs, the same bytes on every machine (fixed seeds): the
// large build context and the large image. Random bytes come from an
// AES-128-CTR keystream (fast, deterministic); sizes and words from a
// small seeded PRNG.
import { createCipheriv, createHash } from 'node:crypto';
import { closeSync, createWriteStream, mkdirSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip, constants as zlib } from 'node:zlib';
import * as tar from 'tar-stream';
import { prng } from '../../scripts/lib/prng.mjs';

/** A deterministic byte stream: next(n) returns n pseudo-random bytes. */
export function randomBytesFrom(seed) {
  const key = createHash('sha256').update(`tsbuild-bench-${seed}`).digest();
  const cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
  return (n) => cipher.update(Buffer.alloc(n));
}

const WORDS = 'the a container image layer build step cache registry push pull manifest blob digest overlay mount process namespace cgroup runtime commit tar gzip config history network volume user group file directory link whiteout'.split(' ');

/**
 * The large build context: `dirs` × `files` small files (0.2–4 KB of random
 * bytes), big.bin (`binMB` MiB random) and big.txt (`textMB` MiB of text).
 * Returns the number of files written.
 */
export function writeLargeContext(dir, { dirs, files, binMB, textMB, seed = 6 }) {
  const rnd = prng(seed);
  const bytes = randomBytesFrom(seed);
  mkdirSync(dir, { recursive: true });
  let count = 0;
  for (let d = 0; d < dirs; d++) {
    const sub = join(dir, `d${String(d).padStart(3, '0')}`);
    mkdirSync(sub);
    for (let f = 0; f < files; f++) {
      const size = 200 + Math.floor(rnd() * (4096 - 200 + 1));
      writeFileSync(join(sub, `f${String(f).padStart(3, '0')}.dat`), bytes(size));
      count++;
    }
  }
  const MiB = 1 << 20;
  let fd = openSync(join(dir, 'big.bin'), 'w');
  for (let i = 0; i < binMB; i++) writeSync(fd, bytes(MiB));
  closeSync(fd);
  fd = openSync(join(dir, 'big.txt'), 'w');
  let written = 0;
  let line = 0;
  while (written < textMB * MiB) {
    const parts = [];
    let len = 0;
    while (len < MiB) {
      const n = 4 + Math.floor(rnd() * 12);
      const words = [];
      for (let i = 0; i < n; i++) words.push(WORDS[Math.floor(rnd() * WORDS.length)]);
      const s = `${++line}: ${words.join(' ')}\n`;
      parts.push(s);
      len += s.length;
    }
    const chunk = Buffer.from(parts.join('')).subarray(0, Math.min(MiB, textMB * MiB - written));
    writeSync(fd, chunk);
    written += chunk.length;
  }
  closeSync(fd);
  return count + 2;
}

const sha = (b) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Writes one gzip tar layer of `files` random files of `fileMB` MiB; returns {digest, size, diffId}. */
async function writeRandomLayer(blobsDir, tmpName, { index, files, fileMB, seed }) {
  const bytes = randomBytesFrom(`${seed}-${index}`);
  const pack = tar.pack();
  const diff = createHash('sha256');
  const blob = createHash('sha256');
  let size = 0;
  const tmp = join(blobsDir, tmpName);
  const gzip = createGzip({ level: zlib.Z_BEST_SPEED });
  pack.on('data', (c) => diff.update(c));
  gzip.on('data', (c) => { blob.update(c); size += c.length; });
  const done = pipeline(pack, gzip, createWriteStream(tmp));
  const entry = (h, body) => new Promise((res, rej) => pack.entry(h, body, (e) => (e ? rej(e) : res())));
  const mtime = new Date(0);
  await entry({ name: `data${index}`, type: 'directory', mode: 0o755, mtime });
  for (let f = 0; f < files; f++) {
    const body = bytes(Math.round(fileMB * (1 << 20)));
    await entry({ name: `data${index}/blob${f}.bin`, type: 'file', mode: 0o644, size: body.length, mtime }, body);
  }
  pack.finalize();
  await done;
  return { digest: `sha256:${blob.digest('hex')}`, size, diffId: `sha256:${diff.digest('hex')}`, tmp };
}

/**
 * An OCI layout holding one image of `layers` layers of random content
 * (`layerMB` MiB each, in 8 files), named `tag` (and `name`, the full
 * reference, for loaders that read containerd's annotation).
 */
/**
 * Writes an image's config and manifest blobs, oci-layout and index.json
 * into the OCI layout DIR whose layer blobs (`layers`: digest, size, diffId;
 * gzip) are already in DIR/blobs/sha256. Times are the epoch, so the same
 * layers give the same digests.
 */
export function writeImageLayout(dir, { config: runConfig, layers, createdBy, tag, name }) {
  const blobs = join(dir, 'blobs/sha256');
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', created: '1970-01-01T00:00:00Z', config: runConfig,
    rootfs: { type: 'layers', diff_ids: layers.map((d) => d.diffId) },
    history: layers.map(() => ({ created: '1970-01-01T00:00:00Z', created_by: createdBy })),
  }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
    layers: layers.map((d) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d.digest, size: d.size })),
  }));
  for (const b of [config, manifest]) writeFileSync(join(blobs, sha(b).slice(7)), b);
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(manifest), size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': tag, ...(name ? { 'io.containerd.image.name': name } : {}) } }],
  }));
}

export async function writeLargeImageLayout(dir, { layers, layerMB, tag = '1', name, seed = 5 }) {
  const blobs = join(dir, 'blobs/sha256');
  mkdirSync(blobs, { recursive: true });
  const descs = [];
  for (let i = 0; i < layers; i++) {
    const l = await writeRandomLayer(blobs, `tmp-${i}`, { index: i, files: 8, fileMB: layerMB / 8, seed });
    renameSync(l.tmp, join(blobs, l.digest.slice(7)));
    descs.push(l);
  }
  writeImageLayout(dir, {
    config: { Cmd: ['/bin/true'] },
    layers: descs,
    createdBy: 'tsbuild bench: random layer',
    tag,
    name,
  });
  return { bytes: descs.reduce((a, d) => a + d.size, 0) };
}
