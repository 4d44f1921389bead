// tsbuild push against Debian's docker-registry: what it pushes keeps its
// digest, is pulled and run by podman (the oracle), mounts blobs across
// repositories, skips what is there, and uploads large layers as one streamed PATCH.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxRootfs, expectOneLineError, tempRoot, tsbuild } from '../fixtures.js';
import { startRegistry, type RegistryServer } from '../registry-server.js';
import { makeLayout, skopeoDigest, skopeoPush, type BuiltImage } from './oci-layout.js';

const execFileAsync = promisify(execFile);
let src: RegistryServer;
let dst: RegistryServer;
let work: string;
let root: string;
let cleanupRoot: () => void;
let busybox: BuiltImage;
let big: BuiltImage;
const podmanRefs: string[] = [];

/** podman pulls `ref` from the registry and runs a command in it. */
async function podmanRun(ref: string, cmd: string[]): Promise<string> {
  podmanRefs.push(ref);
  const { stdout } = await execFileAsync('podman', ['--runtime', '/usr/sbin/runc', 'run', '--rm', '--tls-verify=false', '--network', 'none', ref, ...cmd], { timeout: 120_000 });
  return stdout;
}

beforeAll(async () => {
  work = mkdtempSync('/tmp/tsbuild-pushtest-');
  [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
  busybox = await makeLayout(join(work, 'bb'), 't', { layers: [{ dir: busyboxRootfs }] });
  big = await makeLayout(join(work, 'big'), 't', { layers: [{ dir: busyboxRootfs }, { files: { 'big.bin': randomBytes(40 << 20) } }] });
  await skopeoPush(join(work, 'bb'), 't', `${src.host}/library/busybox:1`);
  await skopeoPush(join(work, 'big'), 't', `${src.host}/big:1`);
  ({ root, cleanup: cleanupRoot } = tempRoot('push'));
  for (const ref of [`${src.host}/library/busybox:1`, `${src.host}/big:1`]) {
    const r = tsbuild(root, ['pull', '-q', ref]);
    expect(r.status, r.stderr).toBe(0);
  }
});

afterAll(async () => {
  if (podmanRefs.length) await execFileAsync('podman', ['rmi', '-f', '--ignore', ...new Set(podmanRefs)]).catch(() => undefined);
  await Promise.all([src?.stop(), dst?.stop()]);
  cleanupRoot?.();
  rmSync(work, { recursive: true, force: true });
});

describe('tsbuild push', () => {
  it('pushes to another registry with the same digest, and podman runs it', async () => {
    const r = tsbuild(root, ['push', `${src.host}/library/busybox:1`, `${dst.host}/x:1`]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(busybox.manifestDigest);
    expect(r.stderr).toContain('Copying blob');
    expect(await skopeoDigest(`${dst.host}/x:1`)).toBe(busybox.manifestDigest);
    expect(await podmanRun(`${dst.host}/x:1`, ['echo', 'ok'])).toBe('ok\n');
  });

  it('uploads a large layer as one streamed PATCH, and the result runs in podman', async () => {
    const digestFile = join(work, 'digest');
    const r = tsbuild(root, ['--log-level', 'debug', 'push', '--digestfile', digestFile, `${src.host}/big:1`, `${dst.host}/big:2`], { timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(digestFile, 'utf8')).toBe(big.manifestDigest);
    expect(r.stderr).toContain(`uploading ${big.layers[1]?.digest}`);
    expect(await skopeoDigest(`${dst.host}/big:2`)).toBe(big.manifestDigest);
    // Pushed again under another tag, every blob is already there.
    const again = tsbuild(root, ['push', `${src.host}/big:1`, `${dst.host}/big:3`]);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr.match(/already exists/g)).toHaveLength(3);
    expect(await podmanRun(`${dst.host}/big:2`, ['sh', '-c', 'wc -c < /big.bin'])).toBe(`${40 << 20}\n`);
  });

  it('mounts blobs from the repository it pulled from, and skips blobs already there', () => {
    const r = tsbuild(root, ['push', `${src.host}/library/busybox:1`, `${src.host}/copies/busybox:2`]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('mounted from library/busybox');
    const again = tsbuild(root, ['push', `${src.host}/library/busybox:1`]);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).not.toMatch(/ done$/m);
    expect(again.stdout.trim()).toBe(busybox.manifestDigest);
  });

  it('round-trips: what tsbuild pushed, tsbuild pulls back to the same image', () => {
    const { root: fresh, cleanup } = tempRoot('pushback');
    try {
      const r = tsbuild(fresh, ['pull', `${dst.host}/big:2`]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe(big.configDigest);
    } finally {
      cleanup();
    }
  });

  it('fails clearly on a missing image or a missing destination', () => {
    const missing = tsbuild(root, ['push', 'nosuchimage:1', `${dst.host}/x:9`]);
    expect(missing.status).not.toBe(0);
    expectOneLineError(missing.stderr);
    const byId = tsbuild(root, ['push', busybox.configDigest]);
    expect(byId.status).not.toBe(0);
    expectOneLineError(byId.stderr);
    expect(byId.stderr).toContain('give a destination');
    const down = tsbuild(root, ['push', `${src.host}/library/busybox:1`, '127.0.0.1:1/x:1']);
    expect(down.status).not.toBe(0);
    expectOneLineError(down.stderr);
    expect(down.stderr).toContain('cannot reach registry 127.0.0.1:1');
  });
});
