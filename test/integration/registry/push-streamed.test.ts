// Issue 12, compress while uploading, through the real CLI and Debian's
// docker-registry: a built layer's first push streams its gzip blob as it is
// made (the blob's digest appears in the store only after the push, named by
// its blobs.json record, and the registry holds that digest); a second push
// HEADs it and uploads nothing; podman pulls and runs the result; an upload
// cut mid-PATCH fails with one line, cancels the session and leaves no
// partial blob, temp file or record in the store.
//
// Between the CLI and the registry sits a small HTTP relay (real requests to
// the real registry, passed through unchanged, Host header included, so the
// registry's upload Locations name the relay): it logs each request and can
// cut a PATCH after its first MiB, as a dropped connection would.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxLayout, expectOneLineError, finished, tempRoot, tsbuild, tsbuildAsync } from '../fixtures.js';
import { startRegistry, type RegistryServer } from '../registry-server.js';
import { skopeoDigest } from './oci-layout.js';

const execFileAsync = promisify(execFile);
const CUT_AFTER = 1 << 20;
const NOISE = 48 << 20;

let registry: RegistryServer;
let relay: Server;
let relayHost: string;
let cutPatches = false;
const requests: string[] = [];
const dirs: { root: string; cleanup: () => void }[] = [];
let root: string;
let ctx: string;
const podmanRefs: string[] = [];

function ok(r: { status: number | null; stderr: string; stdout: string }): string {
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

function startRelay(target: RegistryServer): Promise<Server> {
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url?.split('?')[0]}`);
    const up = request({ host: '127.0.0.1', port: target.port, method: req.method, path: req.url, headers: req.headers }, (ures) => {
      res.writeHead(ures.statusCode ?? 502, ures.headers);
      ures.pipe(res);
    });
    up.on('error', () => res.destroy());
    let seen = 0;
    req.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      if (cutPatches && req.method === 'PATCH' && seen > CUT_AFTER) {
        up.destroy();
        req.socket.destroy();
        return;
      }
      up.write(chunk);
    });
    req.on('end', () => up.end());
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** Push through the relay without blocking this process (the relay runs in it). */
async function pushViaRelay(image: string, dest: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const r = await finished(tsbuildAsync(root, ['push', '-q', '--tls-verify=false', image, dest]));
  return { status: r.code, stdout: r.stdout, stderr: r.stderr };
}

const blobFiles = (): Set<string> => new Set(readdirSync(join(root, 'blobs', 'sha256')));
const tmpFiles = (): string[] => readdirSync(join(root, 'tmp')).filter((f) => f.startsWith('blob-') || f.startsWith('blobs-record-'));
const recordPath = (diffId: string): string => join(root, 'layers', diffId.slice(7), 'blobs.json');

interface Inspected { manifest: { layers: { digest: string }[] }; config: { rootfs: { diff_ids: string[] } } }
const inspect = (ref: string): Inspected => JSON.parse(ok(tsbuild(root, ['inspect', ref]))) as Inspected;

beforeAll(async () => {
  registry = await startRegistry();
  relay = await startRelay(registry);
  relayHost = `127.0.0.1:${(relay.address() as { port: number }).port}`;
  const r = tempRoot('pushstream');
  dirs.push(r);
  root = join(r.root, 'store');
  ctx = join(r.root, 'ctx');
  mkdirSync(ctx);
  // 48 MiB that does not compress and 2 MiB that does: the gzip is far larger
  // than CUT_AFTER plus what the stream buffers on the way (socket buffers,
  // blocks in the compressor), so a cut lands while it is still being made.
  writeFileSync(join(ctx, 'noise.bin'), randomBytes(NOISE));
  writeFileSync(join(ctx, 'text.txt'), Array.from({ length: 200_000 }, (_, i) => `line ${i}`).join('\n'));
  writeFileSync(join(ctx, 'Containerfile'), 'FROM busybox:stable\nCOPY noise.bin text.txt /data/\n');
  ok(tsbuild(root, ['load', '-i', busyboxLayout]));
  ok(tsbuild(root, ['build', '-t', 'streamed:1', ctx], { timeout: 180_000 }));
}, 240_000);

afterAll(async () => {
  if (podmanRefs.length) await execFileAsync('podman', ['rmi', '-f', '--ignore', ...podmanRefs]).catch(() => undefined);
  await new Promise((resolve) => relay?.close(resolve));
  await registry?.stop();
  for (const d of dirs) d.cleanup();
});

describe('push compresses a built layer while it uploads', () => {
  it('an upload cut mid-stream fails with one line, cancels the session and leaves nothing half-made in the store', async () => {
    const diffId = inspect('streamed:1').config.rootfs.diff_ids.at(-1) as string;
    const before = blobFiles();
    cutPatches = true;
    requests.length = 0;
    const r = await pushViaRelay('streamed:1', `${relayHost}/stream/cut:1`).finally(() => { cutPatches = false; });
    expect(r.status).not.toBe(0);
    expectOneLineError(r.stderr);
    // The session the cut PATCH belonged to was cancelled.
    const patch = requests.find((q) => q.startsWith('PATCH '));
    expect(patch).toBeDefined();
    expect(requests).toContain(`DELETE ${patch?.slice('PATCH '.length)}`);
    expect(requests.some((q) => q.startsWith('PUT ') && q.includes('/manifests/'))).toBe(false);
    // No blob file, no temp file, no record for the layer.
    expect([...blobFiles()].filter((f) => !before.has(f))).toEqual([]);
    expect(tmpFiles()).toEqual([]);
    expect(existsSync(recordPath(diffId))).toBe(false);
  }, 180_000);

  it('the first push streams: the blob appears in the store only with the push, under the digest the registry checked', async () => {
    const diffId = inspect('streamed:1').config.rootfs.diff_ids.at(-1) as string;
    const before = blobFiles();
    requests.length = 0;
    const dest = `${relayHost}/stream/app:1`;
    const r = await pushViaRelay('streamed:1', dest);
    const pushed = ok(r).trim();
    // One upload session per missing blob, no HEAD for the streamed layer (its digest was not known).
    const record = JSON.parse(readFileSync(recordPath(diffId), 'utf8')) as Record<string, { digest: string; size: number }>;
    const blob = Object.values(record)[0];
    expect(blob).toBeDefined();
    const hex = blob?.digest.slice(7) as string;
    expect(before.has(hex)).toBe(false);
    expect(blobFiles().has(hex)).toBe(true);
    expect(requests).not.toContain(`HEAD /v2/stream/app/blobs/${blob?.digest}`);
    expect(requests).toContain(`PUT ${requests.find((q) => q.startsWith('PATCH '))?.slice('PATCH '.length)}`);
    // The registry holds it under that digest, named by the pushed manifest.
    expect(await skopeoDigest(`${registry.host}/stream/app:1`)).toBe(pushed);
    const { stdout } = await execFileAsync('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${registry.host}/stream/app:1`]);
    const manifest = JSON.parse(stdout) as { layers: { digest: string; size: number }[] };
    expect(manifest.layers.at(-1)).toMatchObject({ digest: blob?.digest, size: blob?.size });
    expect(readFileSync(registry.blobDataPath(blob?.digest as string)).equals(readFileSync(join(root, 'blobs', 'sha256', hex)))).toBe(true);
    // podman pulls it back and reads the copied files.
    podmanRefs.push(`${registry.host}/stream/app:1`);
    const run = await execFileAsync('podman', ['--runtime', '/usr/sbin/runc', 'run', '--rm', '--tls-verify=false', '--network', 'none', `${registry.host}/stream/app:1`, 'sh', '-c', 'wc -c < /data/noise.bin; tail -n1 /data/text.txt'], { timeout: 120_000 });
    expect(run.stdout).toBe(`${NOISE}\nline 199999`);
  }, 240_000);

  it('a second push HEADs the recorded digest and uploads nothing', async () => {
    requests.length = 0;
    const r = await pushViaRelay('streamed:1', `${relayHost}/stream/app:1`);
    ok(r);
    expect(requests.filter((q) => q.startsWith('POST ') || q.startsWith('PATCH '))).toEqual([]);
    expect(requests.filter((q) => q.startsWith('HEAD ')).length).toBeGreaterThanOrEqual(3);
  }, 120_000);
});
