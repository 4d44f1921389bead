// Issue 12, through the real CLI: a build compresses nothing (no blob file
// for any layer it makes, builder stage or not, so the store holds one copy
// of each layer); a push makes gzip blobs for the pushed image's layers only,
// remembers them, and a pull into another store gives the pushed digests and
// the same image; prune frees the made blobs, a re-push to a repository
// that has them compresses nothing, and one to a repository that lacks them
// makes the same bytes again; save writes gzip layers (oci) or tars (docker) that
// skopeo and a fresh store read back.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxLayout, tempRoot, tsbuild } from '../fixtures.js';
import { startRegistry, type RegistryServer } from '../registry-server.js';
import { skopeoDigest } from '../registry/oci-layout.js';

const CONTAINERFILE = `FROM busybox:stable AS builder
RUN mkdir /out && seq 1 200000 > /out/numbers.txt && dd if=/dev/urandom of=/out/noise bs=1k count=256 2>/dev/null
RUN echo builder-only > /builder-marker
FROM busybox:stable
COPY --from=builder /out/numbers.txt /app/numbers.txt
RUN wc -l < /app/numbers.txt > /app/count
`;

const roots: { root: string; cleanup: () => void }[] = [];
let registry: RegistryServer;
let root: string;
let ctx: string;
let imageId: string;
let pushed: string;

function ok(r: ReturnType<typeof tsbuild>): string {
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

function newRoot(prefix: string): string {
  const r = tempRoot(prefix);
  roots.push(r);
  ok(tsbuild(r.root, ['load', '-i', busyboxLayout]));
  return r.root;
}

interface Inspected { digest: string; id: string; manifest: { layers: { digest: string; mediaType: string; size: number }[] }; config: { rootfs: { diff_ids: string[] } } }
const inspect = (r: string, ref: string): Inspected => JSON.parse(ok(tsbuild(r, ['inspect', ref]))) as Inspected;

const blobDir = (r: string): string => join(r, 'blobs', 'sha256');
const blobFiles = (r: string): string[] => readdirSync(blobDir(r));

/** Layers of the store: hex → layer.json, and whether a blobs.json record exists. */
function layers(r: string): Map<string, { built?: boolean; record: boolean }> {
  const out = new Map<string, { built?: boolean; record: boolean }>();
  for (const hex of readdirSync(join(r, 'layers'))) {
    const meta = JSON.parse(readFileSync(join(r, 'layers', hex, 'layer.json'), 'utf8')) as { built?: boolean };
    out.set(hex, { ...meta, record: existsSync(join(r, 'layers', hex, 'blobs.json')) });
  }
  return out;
}

/** Bytes of blob files that are not small JSON documents (manifests, configs). */
function layerBlobBytes(r: string, except: readonly string[]): number {
  let n = 0;
  for (const f of blobFiles(r)) {
    if (except.includes(`sha256:${f}`)) continue;
    const size = statSync(join(blobDir(r), f)).size;
    if (readFileSync(join(blobDir(r), f)).subarray(0, 1).toString() !== '{') n += size;
  }
  return n;
}

beforeAll(async () => {
  registry = await startRegistry();
  root = newRoot('lazyzip');
  const work = tempRoot('lazyzip-ctx');
  roots.push(work);
  ctx = join(work.root, 'ctx');
  mkdirSync(ctx);
  writeFileSync(join(ctx, 'Containerfile'), CONTAINERFILE);
}, 120_000);

afterAll(async () => {
  await registry?.stop();
  for (const r of roots) r.cleanup();
});

describe('lazy layer compression', () => {
  it('a build compresses nothing: no blob file for any built layer, builder stage included', () => {
    const base = inspect(root, 'busybox:stable').manifest.layers.map((l) => l.digest);
    const before = new Set(blobFiles(root));
    imageId = ok(tsbuild(root, ['build', '-t', 'lazy:1', ctx], { timeout: 180_000 })).trim();
    const img = inspect(root, 'lazy:1');
    const built = [...layers(root)].filter(([, m]) => m.built);
    // Two builder RUNs, the COPY and the last RUN.
    expect(built.length).toBe(4);
    expect(built.filter(([, m]) => m.record)).toEqual([]);
    const added = blobFiles(root).filter((f) => !before.has(f));
    for (const [hex] of built) expect(added).not.toContain(hex);
    // Only the image's config and manifest (and the builder stage's nothing) were added, all JSON.
    expect(layerBlobBytes(root, base)).toBe(0);
    // The local manifest names the new layers by diffID, uncompressed.
    const fresh = img.manifest.layers.slice(base.length);
    expect(fresh.map((l) => l.digest)).toEqual(img.config.rootfs.diff_ids.slice(base.length));
    expect(new Set(fresh.map((l) => l.mediaType))).toEqual(new Set(['application/vnd.oci.image.layer.v1.tar']));
    expect(ok(tsbuild(root, ['run', '--rm', 'lazy:1', 'cat', '/app/count'])).trim()).toBe('200000');
  });

  it('a push gzips the pushed layers only, and a pull elsewhere gives the pushed digests and the same image', () => {
    const dest = `${registry.host}/lazy/app:1`;
    pushed = ok(tsbuild(root, ['push', '-q', 'lazy:1', dest], { timeout: 180_000 })).trim();
    return skopeoDigest(dest).then((digest) => {
      expect(digest).toBe(pushed);
      const img = inspect(root, 'lazy:1');
      const mine = new Set(img.config.rootfs.diff_ids.map((d) => d.slice(7)));
      const built = [...layers(root)].filter(([, m]) => m.built);
      // The final stage's two layers were compressed and remembered; the builder's two were not.
      expect(built.filter(([hex, m]) => m.record && mine.has(hex)).length).toBe(2);
      expect(built.filter(([hex, m]) => m.record && !mine.has(hex))).toEqual([]);
      const other = tempRoot('lazyzip-pull');
      roots.push(other);
      ok(tsbuild(other.root, ['pull', '-q', dest], { timeout: 180_000 }));
      const back = inspect(other.root, dest);
      expect(back.digest).toBe(pushed);
      expect(back.id).toBe(imageId);
      expect(new Set(back.manifest.layers.map((l) => l.mediaType))).toEqual(new Set(['application/vnd.oci.image.layer.v1.tar+gzip']));
      expect(ok(tsbuild(other.root, ['run', '--rm', dest, 'cat', '/app/count'])).trim()).toBe('200000');
    });
  });

  it('prune frees the made blobs (one copy again); a re-push compresses nothing where the registry has them, and makes the same bytes where it lacks them', async () => {
    const base = inspect(root, 'busybox:stable').manifest.layers.map((l) => l.digest);
    expect(layerBlobBytes(root, base)).toBeGreaterThan(0);
    ok(tsbuild(root, ['prune']));
    expect(layerBlobBytes(root, base)).toBe(0);
    // To a repository that has the layers: their records name them, the registry has them, nothing is compressed.
    expect(ok(tsbuild(root, ['push', '-q', 'lazy:1', `${registry.host}/lazy/app:1`], { timeout: 180_000 })).trim()).toBe(pushed);
    expect(layerBlobBytes(root, base)).toBe(0);
    // To one that lacks them: made again, the same bytes (the CAS checks them against the record).
    const dest = `${registry.host}/lazy/again:1`;
    expect(ok(tsbuild(root, ['push', '-q', 'lazy:1', dest], { timeout: 180_000 })).trim()).toBe(pushed);
    expect(await skopeoDigest(dest)).toBe(pushed);
    expect(layerBlobBytes(root, base)).toBeGreaterThan(0);
  });

  it('save writes gzip layers to an oci-archive and tars to a docker-archive, both read back', () => {
    const out = join(root, 'out');
    mkdirSync(out);
    ok(tsbuild(root, ['save', '--format', 'oci-archive', '-o', join(out, 'img.tar'), 'lazy:1'], { timeout: 180_000 }));
    const viaSkopeo = JSON.parse(execFileSync('skopeo', ['inspect', '--raw', `oci-archive:${join(out, 'img.tar')}`], { encoding: 'utf8' })) as { layers: { digest: string; mediaType: string }[] };
    const registryManifest = JSON.parse(execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/lazy/app:1`], { encoding: 'utf8' })) as { layers: { digest: string }[] };
    expect(viaSkopeo.layers.map((l) => l.digest)).toEqual(registryManifest.layers.map((l) => l.digest));
    ok(tsbuild(root, ['save', '--format', 'docker-archive', '-o', join(out, 'docker.tar'), 'lazy:1'], { timeout: 180_000 }));
    const other = tempRoot('lazyzip-load');
    roots.push(other);
    ok(tsbuild(other.root, ['load', '-i', join(out, 'docker.tar')]));
    expect(inspect(other.root, 'lazy:1').id).toBe(imageId);
    expect(ok(tsbuild(other.root, ['run', '--rm', 'lazy:1', 'cat', '/app/count'])).trim()).toBe('200000');
  });
});
