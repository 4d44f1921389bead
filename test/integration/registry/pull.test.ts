// tsbuild pull against Debian's docker-registry, with images pushed there by
// skopeo (the oracle): OCI and Docker schema2 manifests, multi-platform
// indexes, digests, errors, a blob corrupted on the registry's disk, a pull
// killed with SIGKILL and resumed, and two pulls of one image at once.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxRootfs, expectOneLineError, finished, sleep, tempRoot, tsbuild, tsbuildAsync } from '../fixtures.js';
import { startRegistry, type RegistryServer } from '../registry-server.js';
import { openStore, type ImageConfig } from '../../../src/store/index.js';
import { makeLayout, makeMultiArchLayout, skopeoPush, type BuiltImage } from './oci-layout.js';

const execFileAsync = promisify(execFile);
let reg: RegistryServer;
let work: string;
let busybox: BuiltImage;

const hex = (d: string): string => d.replace(/^sha256:/, '');
async function fileDigest(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return `sha256:${h.digest('hex')}`;
}
/** Every blob in the store hashes to its name. */
async function verifyStore(root: string): Promise<string[]> {
  const dir = join(root, 'blobs/sha256');
  const names = existsSync(dir) ? readdirSync(dir) : [];
  for (const n of names) expect(await fileDigest(join(dir, n))).toBe(`sha256:${n}`);
  return names;
}
/** The stored image a reference resolves to, read through the store's API. */
async function inspect(root: string, ref: string): Promise<{ id: string; digest: string; names: string[]; config: ImageConfig }> {
  const store = await openStore(root);
  try {
    const rec = await store.resolveImage(ref);
    const { config } = await store.readImage(rec);
    return { id: rec.id, digest: rec.manifestDigest, names: rec.names, config };
  } finally {
    await store.close();
  }
}

beforeAll(async () => {
  work = mkdtempSync('/tmp/tsbuild-pulltest-');
  reg = await startRegistry();
  busybox = await makeLayout(join(work, 'busybox'), 'bb', { layers: [{ dir: busyboxRootfs }], cmd: ['/bin/sh'] });
  await skopeoPush(join(work, 'busybox'), 'bb', `${reg.host}/library/busybox:1`);
});
afterAll(async () => {
  await reg?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('tsbuild pull', () => {
  it('pulls an OCI image pushed by skopeo, unpacks its layers and prints its ID', async () => {
    const { root, cleanup } = tempRoot('pull');
    try {
      const r = tsbuild(root, ['pull', `${reg.host}/library/busybox:1`]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe(busybox.configDigest);
      expect(r.stderr).toContain(`Copying blob ${busybox.layers[0]?.digest.slice(0, 19)}`);
      const diffId = busybox.layers[0]?.diffId as string;
      const layer = join(root, 'layers', hex(diffId));
      expect(existsSync(layer)).toBe(true);
      // The unpacked busybox binary is the same file as the fixture's.
      const bin = readdirSync(layer).includes('diff') ? join(layer, 'diff/bin/busybox') : join(layer, 'bin/busybox');
      expect(readFileSync(bin).equals(readFileSync(join(busyboxRootfs, 'bin/busybox')))).toBe(true);
      const info = await inspect(root, `${reg.host}/library/busybox:1`);
      expect(info.id).toBe(busybox.configDigest);
      expect(info.config.rootfs.diff_ids).toEqual([diffId]);
      // A second pull downloads nothing.
      const again = tsbuild(root, ['pull', `${reg.host}/library/busybox:1`]);
      expect(again.status, again.stderr).toBe(0);
      expect(again.stderr).toContain('already exists');
    } finally {
      cleanup();
    }
  });

  it('runs what it pulled, when the runtime can', () => {
    const { root, cleanup } = tempRoot('pullrun');
    try {
      expect(tsbuild(root, ['pull', '-q', `${reg.host}/library/busybox:1`]).status).toBe(0);
      const r = tsbuild(root, ['run', '--rm', '--network', 'none', `${reg.host}/library/busybox:1`, 'echo', 'hi']);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('hi\n');
      expect(r.status).toBe(0);
    } finally {
      cleanup();
    }
  });

  it('pulls and runs an image built and pushed by buildah', async () => {
    // buildah in private vfs storage, so the host's containers storage is untouched.
    const store = join(work, 'buildah');
    const ba = ['--root', join(store, 'root'), '--runroot', join(store, 'run'), '--storage-driver', 'vfs'];
    const buildah = async (...args: string[]): Promise<string> => (await execFileAsync('buildah', [...ba, ...args], { timeout: 120_000 })).stdout.trim();
    try {
      const ctr = await buildah('from', 'scratch');
      await buildah('copy', ctr, busyboxRootfs, '/');
      await buildah('config', '--cmd', '/bin/sh', '--env', 'GREETING=from-buildah', ctr);
      await buildah('commit', '-q', ctr, 'bh:1');
      await buildah('push', '--tls-verify=false', 'bh:1', `docker://${reg.host}/buildah/bh:1`);
      await buildah('rm', '-a');
    } finally {
      await execFileAsync('buildah', [...ba, 'rmi', '-a', '-f']).catch(() => undefined);
    }
    const { root, cleanup } = tempRoot('pull');
    try {
      const r = tsbuild(root, ['pull', `${reg.host}/buildah/bh:1`]);
      expect(r.status, r.stderr).toBe(0);
      const info = await inspect(root, `${reg.host}/buildah/bh:1`);
      expect(info.config.config?.Env).toContain('GREETING=from-buildah');
      const run = tsbuild(root, ['run', '--rm', '--network', 'none', `${reg.host}/buildah/bh:1`, 'sh', '-c', 'echo $GREETING']);
      expect(run.stdout, run.stderr).toBe('from-buildah\n');
    } finally {
      cleanup();
    }
  });

  it('pulls Docker schema2 manifests and by digest', async () => {
    const layout = join(work, 'v2s2');
    await makeLayout(layout, 't', { layers: [{ dir: busyboxRootfs }, { files: { 'etc/motd': 'schema2\n' } }] });
    await skopeoPush(layout, 't', `${reg.host}/v2s2:1`, { format: 'v2s2' });
    const { root, cleanup } = tempRoot('pull');
    try {
      const r = tsbuild(root, ['pull', `${reg.host}/v2s2:1`]);
      expect(r.status, r.stderr).toBe(0);
      const info = await inspect(root, `${reg.host}/v2s2:1`);
      expect(info.id).toBe(r.stdout.trim());
      const byDigest = tsbuild(root, ['pull', `${reg.host}/v2s2@${info.digest}`]);
      expect(byDigest.status, byDigest.stderr).toBe(0);
      expect(byDigest.stdout.trim()).toBe(info.id);
    } finally {
      cleanup();
    }
  });

  it('selects the platform from a multi-platform index', async () => {
    const layout = join(work, 'multi');
    const { indexDigest, images } = await makeMultiArchLayout(layout, 'm', [
      { layers: [{ files: { 'arch': 'amd64\n' } }], architecture: 'amd64' },
      { layers: [{ files: { 'arch': 'arm64\n' } }], architecture: 'arm64', variant: 'v8' },
    ]);
    await skopeoPush(layout, 'm', `${reg.host}/multi:1`, { all: true });
    const { root, cleanup } = tempRoot('pull');
    try {
      const amd = tsbuild(root, ['pull', `${reg.host}/multi:1`]);
      expect(amd.status, amd.stderr).toBe(0);
      expect(amd.stdout.trim()).toBe(images[0]?.configDigest);
      const arm = tsbuild(root, ['pull', '--platform', 'linux/arm64', `${reg.host}/multi:1`]);
      expect(arm.status, arm.stderr).toBe(0);
      expect(arm.stdout.trim()).toBe(images[1]?.configDigest);
      expect((await inspect(root, `${reg.host}/multi:1`)).config.architecture).toBe('arm64');
      const none = tsbuild(root, ['pull', '--platform', 'linux/s390x', `${reg.host}/multi@${indexDigest}`]);
      expect(none.status).not.toBe(0);
      expectOneLineError(none.stderr);
      expect(none.stderr).toContain('no image for platform linux/s390x (available: linux/amd64, linux/arm64/v8)');
    } finally {
      cleanup();
    }
  });

  it('says clearly what is not found, and what is not a reference', () => {
    const { root, cleanup } = tempRoot('pull');
    try {
      const r = tsbuild(root, ['pull', `${reg.host}/library/busybox:nope`]);
      expect(r.status).not.toBe(0);
      expectOneLineError(r.stderr);
      expect(r.stderr).toContain(`manifest for ${reg.host}/library/busybox:nope: not found`);
      const bad = tsbuild(root, ['pull', 'Not/Valid']);
      expect(bad.status).not.toBe(0);
      expectOneLineError(bad.stderr);
      expect(bad.stderr).toContain('invalid reference "Not/Valid"');
      const down = tsbuild(root, ['pull', '127.0.0.1:1/x:1']);
      expectOneLineError(down.stderr);
      expect(down.stderr).toContain('cannot reach registry 127.0.0.1:1');
    } finally {
      cleanup();
    }
  });

  it('fails on the digest of a blob corrupted on the registry, keeping nothing of it', async () => {
    const layout = join(work, 'corrupt');
    const img = await makeLayout(layout, 't', { layers: [{ files: { 'data.bin': randomBytes(200_000) } }] });
    await skopeoPush(layout, 't', `${reg.host}/corrupt:1`);
    const layer = img.layers[0]?.digest as string;
    const data = reg.blobDataPath(layer);
    const size = statSync(data).size;
    writeFileSync(data, randomBytes(size)); // same size, other bytes
    const { root, cleanup } = tempRoot('pull');
    try {
      const r = tsbuild(root, ['pull', `${reg.host}/corrupt:1`]);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain(layer);
      expect(r.stderr).toMatch(/digest/i);
      expect(existsSync(join(root, 'blobs/sha256', hex(layer)))).toBe(false);
      expect(readdirSync(join(root, 'registry/partial')).filter((n) => n.startsWith(hex(layer)))).toEqual([]);
      await expect(inspect(root, `${reg.host}/corrupt:1`)).rejects.toMatchObject({ code: 'E_IMAGE_NOT_FOUND' });
      await verifyStore(root);
    } finally {
      cleanup();
    }
  });

  it('resumes after kill -9 midway through a large pull', async () => {
    const layout = join(work, 'big');
    const img = await makeLayout(layout, 't', { layers: [{ dir: busyboxRootfs }, { files: { 'big.bin': randomBytes(50 << 20) } }] });
    await skopeoPush(layout, 't', `${reg.host}/big:1`);
    const big = img.layers[1] as { digest: string; size: number };
    const { root, cleanup } = tempRoot('pullkill');
    try {
      const child = tsbuildAsync(root, ['pull', `${reg.host}/big:1`]);
      const done = finished(child);
      const partial = join(root, 'registry/partial', hex(big.digest));
      // Kill once some, but not all, of the big layer has arrived.
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        const got = existsSync(partial) ? statSync(partial).size : 0;
        if (got > 2 << 20) break;
        if (child.exitCode !== null) break;
        await sleep(5);
      }
      child.kill('SIGKILL');
      const res = await done;
      expect(res.signal).toBe('SIGKILL');
      const kept = existsSync(partial) ? statSync(partial).size : 0;
      expect(kept).toBeGreaterThan(0);
      expect(kept).toBeLessThan(big.size);

      const r = tsbuild(root, ['pull', `${reg.host}/big:1`], { timeout: 120_000 });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe(img.configDigest);
      expect(existsSync(partial)).toBe(false);
      expect(await verifyStore(root)).toEqual(expect.arrayContaining([hex(big.digest), hex(img.configDigest)]));
      expect(existsSync(join(root, 'layers', hex(img.layers[1]?.diffId as string)))).toBe(true);
    } finally {
      cleanup();
    }
  });

  it('lets two pulls of the same image run at once', async () => {
    const { root, cleanup } = tempRoot('pull2');
    try {
      const [a, b] = await Promise.all([
        finished(tsbuildAsync(root, ['pull', `${reg.host}/big:1`])),
        finished(tsbuildAsync(root, ['pull', `${reg.host}/big:1`])),
      ]);
      expect(a.code, a.stderr).toBe(0);
      expect(b.code, b.stderr).toBe(0);
      expect(a.stdout).toBe(b.stdout);
      await verifyStore(root);
      expect(readdirSync(join(root, 'registry/partial'))).toEqual([]);
    } finally {
      cleanup();
    }
  });
});
