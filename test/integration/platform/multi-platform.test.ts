// `build --platform linux/amd64,linux/arm64 --push` against the real
// registry, with Debian's qemu-user-static for the arm64 RUN steps. The base
// is a two-platform busybox index (amd64 and arm64 busybox-static, pushed by
// skopeo); skopeo reads what we push, and podman (runc) runs each platform.
// The Containerfile is the cross-compile pattern: a `FROM
// --platform=$BUILDPLATFORM` builder stage, whose output the final stage copies.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxRootfs, tempRoot, tsbuild } from '../fixtures.js';
import { startRegistry, type RegistryServer } from '../registry-server.js';
import { makeMultiArchLayout, skopeoDigest, skopeoPush } from '../registry/oci-layout.js';
import { arm64BusyboxRootfs, ensureBinfmt } from './arm64-busybox.js';

const execFileAsync = promisify(execFile);
let reg: RegistryServer;
let work: string;
let root: string;
let cleanupRoot: () => void;
const podmanRefs: string[] = [];

async function podmanCat(ref: string, arch: string, files: string[]): Promise<string> {
  podmanRefs.push(ref);
  const { stdout } = await execFileAsync('podman', ['--runtime', '/usr/sbin/runc', 'run', '--rm', '--pull', 'always', '--arch', arch, '--tls-verify=false', '--network', 'none', ref, 'cat', ...files], { timeout: 180_000 });
  return stdout;
}

async function skopeoRaw(ref: string): Promise<{ mediaType?: string; manifests: Array<{ digest: string; platform: { os: string; architecture: string; variant?: string } }> }> {
  const { stdout } = await execFileAsync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`], { timeout: 60_000 });
  return JSON.parse(stdout);
}

function containerfile(base: string): string {
  return [
    `FROM --platform=$BUILDPLATFORM ${base} AS builder`,
    'ARG BUILDARCH',
    'ARG TARGETARCH',
    'RUN echo "$(uname -m) BUILDARCH=$BUILDARCH TARGETARCH=$TARGETARCH" > /builder.txt',
    `FROM ${base}`,
    'ARG TARGETARCH',
    'ARG TARGETPLATFORM',
    'COPY --from=builder /builder.txt /builder.txt',
    'RUN uname -m > /uname.txt && echo "$TARGETARCH $TARGETPLATFORM" > /target.txt',
    '',
  ].join('\n');
}

beforeAll(async () => {
  ensureBinfmt();
  work = mkdtempSync('/tmp/tsbuild-platformtest-');
  reg = await startRegistry();
  const arm64 = await arm64BusyboxRootfs();
  await makeMultiArchLayout(join(work, 'bb'), 'multi', [
    { layers: [{ dir: busyboxRootfs }], architecture: 'amd64' },
    { layers: [{ dir: arm64 }], architecture: 'arm64', variant: 'v8' },
  ]);
  await skopeoPush(join(work, 'bb'), 'multi', `${reg.host}/library/busybox:multi`, { all: true });
  ({ root, cleanup: cleanupRoot } = tempRoot('platform'));
  mkdirCtx();
}, 300_000);

function mkdirCtx(): void {
  writeFileSync(join(work, 'Containerfile'), containerfile(`${reg.host}/library/busybox:multi`));
}

afterAll(async () => {
  if (podmanRefs.length) await execFileAsync('podman', ['rmi', '-f', '--ignore', ...new Set(podmanRefs)]).catch(() => undefined);
  await reg?.stop();
  cleanupRoot?.();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('build --platform linux/amd64,linux/arm64', () => {
  let indexDigest = '';

  it('pushes one index that skopeo reads as linux/amd64 + linux/arm64, and podman runs each platform', async () => {
    const ref = `${reg.host}/app:multi`;
    const r = tsbuild(root, ['build', '--platform', 'linux/amd64,linux/arm64', '--source-date-epoch', '0', '--tls-verify=false', '-t', ref, '--push', '-f', join(work, 'Containerfile'), work], { timeout: 600_000 });
    expect(r.status, r.stderr).toBe(0);
    indexDigest = r.stdout.trim();
    expect(indexDigest).toMatch(/^sha256:[a-f0-9]{64}$/);
    const index = await skopeoRaw(ref);
    expect(index.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(index.manifests.map((m) => `${m.platform.os}/${m.platform.architecture}`)).toEqual(['linux/amd64', 'linux/arm64']);

    const arm = (await podmanCat(ref, 'arm64', ['/uname.txt', '/target.txt', '/builder.txt'])).split('\n');
    expect(arm.slice(0, 3)).toEqual(['aarch64', 'arm64 linux/arm64', 'x86_64 BUILDARCH=amd64 TARGETARCH=arm64']);
    const amd = (await podmanCat(ref, 'amd64', ['/uname.txt', '/target.txt', '/builder.txt'])).split('\n');
    expect(amd.slice(0, 3)).toEqual(['x86_64', 'amd64 linux/amd64', 'x86_64 BUILDARCH=amd64 TARGETARCH=amd64']);
  }, 900_000);

  it('keeps the index under the tag: run --platform, images, inspect and rmi understand it', () => {
    const ref = `${reg.host}/app:multi`;
    // prune keeps the untagged platform images a named index lists.
    const pruned = tsbuild(root, ['prune']);
    expect(pruned.status, pruned.stderr).toBe(0);
    const arm = tsbuild(root, ['run', '--rm', '--platform', 'linux/arm64', ref, 'cat', '/uname.txt']);
    expect(arm.status, arm.stderr).toBe(0);
    expect(arm.stdout).toBe('aarch64\n');
    const host = tsbuild(root, ['run', '--rm', ref, 'uname', '-m']);
    expect(host.status, host.stderr).toBe(0);
    expect(host.stdout).toBe('x86_64\n');
    const missing = tsbuild(root, ['run', '--rm', '--platform', 'linux/s390x', ref, 'true']);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr.trim()).toMatch(/^tsbuild: .*no image for platform linux\/s390x \(available: linux\/amd64, linux\/arm64\)$/);

    const images = JSON.parse(tsbuild(root, ['images', '--format', 'json']).stdout) as Array<{ digest: string; names: string[]; index?: boolean }>;
    expect(images.find((i) => i.index && i.names.includes(`${reg.host}/app:multi`))?.digest).toBe(indexDigest);
    const inspected = JSON.parse(tsbuild(root, ['inspect', ref]).stdout) as { type: string; digest: string; manifest: { manifests: unknown[] } } | Array<{ type: string; digest: string; manifest: { manifests: unknown[] } }>;
    const one = Array.isArray(inspected) ? inspected[0] : inspected;
    expect(one?.type).toBe('index');
    expect(one?.digest).toBe(indexDigest);
    expect(one?.manifest.manifests).toHaveLength(2);
  });

  it('assembles and pushes an index by hand with tsbuild manifest, which skopeo reads', async () => {
    const ref = `${reg.host}/app:multi`;
    const inspect = JSON.parse(tsbuild(root, ['manifest', 'inspect', ref]).stdout) as { manifests: Array<{ digest: string }> };
    const [amd, arm] = inspect.manifests.map((m) => m.digest);
    expect(tsbuild(root, ['manifest', 'create', 'local/list:1']).status).toBe(0);
    for (const d of [arm, amd]) {
      const r = tsbuild(root, ['manifest', 'add', 'local/list:1', d as string]);
      expect(r.status, r.stderr).toBe(0);
    }
    const pushed = tsbuild(root, ['manifest', 'push', '--all', 'local/list:1', `docker://${reg.host}/list:1`]);
    expect(pushed.status, pushed.stderr).toBe(0);
    const index = await skopeoRaw(`${reg.host}/list:1`);
    // The platform images go up with their built layers as gzip blobs, so
    // under the digests the build's --push gave them, not the local ones.
    const remote = new Map((await skopeoRaw(ref)).manifests.map((m) => [m.platform.architecture, m.digest]));
    expect([arm, amd].every((d) => d !== undefined && ![...remote.values()].includes(d))).toBe(true);
    expect(index.manifests.map((m) => `${m.platform.os}/${m.platform.architecture}:${m.digest}`)).toEqual([`linux/arm64:${remote.get('arm64')}`, `linux/amd64:${remote.get('amd64')}`]);
    const rmi = tsbuild(root, ['rmi', 'local/list:1']);
    expect(rmi.status, rmi.stderr).toBe(0);
    expect(tsbuild(root, ['manifest', 'inspect', 'local/list:1']).stderr.trim()).toBe('tsbuild: manifest list not known: local/list:1 (tsbuild manifest create local/list:1)');
  });

  it('saves the index whole to an OCI layout that skopeo reads, and loads it back with every platform', async () => {
    const ref = `${reg.host}/app:multi`;
    const dir = join(work, 'saved');
    const r = tsbuild(root, ['save', '--format', 'oci-dir', '-o', dir, ref]);
    expect(r.status, r.stderr).toBe(0);
    const { stdout } = await execFileAsync('skopeo', ['inspect', '--raw', `oci:${dir}:multi`]);
    const index = JSON.parse(stdout) as { manifests: Array<{ platform: { architecture: string } }> };
    expect(index.manifests.map((m) => m.platform.architecture)).toEqual(['amd64', 'arm64']);
    const docker = tsbuild(root, ['save', '--format', 'docker-archive', '-o', join(work, 'x.tar'), ref]);
    expect(docker.status).not.toBe(0);
    expect(docker.stderr.trim()).toMatch(/^tsbuild: .* is a multi-platform image; docker-archive holds single images/);

    const fresh = tempRoot('platform-load');
    try {
      const l = tsbuild(fresh.root, ['load', '-i', dir]);
      expect(l.status, l.stderr).toBe(0);
      const inspected = JSON.parse(tsbuild(fresh.root, ['inspect', ref]).stdout) as { digest: string } | Array<{ digest: string }>;
      // The saved index names the platform manifests with gzip layers: the index the build pushed.
      expect((Array.isArray(inspected) ? inspected[0] : inspected)?.digest).toBe(await skopeoDigest(ref));
      const arm = tsbuild(fresh.root, ['run', '--rm', '--platform', 'linux/arm64', ref, 'cat', '/uname.txt']);
      expect(arm.status, arm.stderr).toBe(0);
      expect(arm.stdout).toBe('aarch64\n');
    } finally {
      fresh.cleanup();
    }
  });

  it('is reproducible: the same inputs without cache give the same index digest', () => {
    expect(indexDigest).not.toBe('');
    const r = tsbuild(root, ['build', '--no-cache', '--platform', 'linux/amd64,linux/arm64', '--source-date-epoch', '0', '-t', 'local/app:again', '-f', join(work, 'Containerfile'), work], { timeout: 600_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(indexDigest);
  }, 900_000);

  it('builds one foreign platform as a plain image, keeping the base tag on the host image', () => {
    const r = tsbuild(root, ['build', '--platform', 'linux/arm64', '-t', 'local/app:arm64', '-f', join(work, 'Containerfile'), work], { timeout: 600_000 });
    expect(r.status, r.stderr).toBe(0);
    const one = (ref: string) => { const v = JSON.parse(tsbuild(root, ['inspect', ref]).stdout) as unknown; return (Array.isArray(v) ? v[0] : v) as { type: string; architecture: string }; };
    expect(one('local/app:arm64')).toMatchObject({ type: 'image', architecture: 'arm64' });
    expect(one(`${reg.host}/library/busybox:multi`)).toMatchObject({ type: 'image', architecture: 'amd64' });
    const run = tsbuild(root, ['run', '--rm', 'local/app:arm64', 'cat', '/target.txt']);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toBe('arm64 linux/arm64\n');
  }, 600_000);

  it('caches base images per platform: builds both again with the registry gone', async () => {
    await reg.stop();
    const r = tsbuild(root, ['build', '--platform', 'linux/amd64,linux/arm64', '--source-date-epoch', '0', '-t', 'local/app:offline', '-f', join(work, 'Containerfile'), work], { timeout: 600_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(indexDigest);
  }, 600_000);
});
