// Deep images (issue 9 §1): a 300-step Containerfile builds and runs; a
// 520-step one stops at overlayfs' limit (500 lower layers) with one line
// naming it, at the step that would pass it; a 301-layer image goes through
// the real registry and back, then `run` and `from` work on it. Each of these
// runs with both of the native side's overlay mounts: the mount API (one
// fsconfig lowerdir+ per layer, the default on this 6.x kernel) and the
// mount(2) fallback with fd-relative layer names (TSBUILD_OVERLAY_API=legacy,
// what a kernel older than 6.8 takes by itself). Also (issue 9 §5) a bind
// mount `from=` a stage with a subdirectory `source=`, which BuildKit builds.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxLayout, expectOneLineError, hostMountsMentioning, tempRoot, tsbuildBin } from '../fixtures.js';
import { startRegistry, type RegistryServer } from '../registry-server.js';

const LEGACY = { TSBUILD_OVERLAY_API: 'legacy' };
const APIS = [['the mount API', {}], ['the mount(2) fallback', LEGACY]] as const;
/** How each mount shows in the container's /proc/mounts: one lowerdir+= per layer, or fd numbers. */
const ROOT_LINE = [/^overlay \/ overlay \S*(,lowerdir\+=[^,]+){302},upperdir=/m, /^overlay \/ overlay \S*,lowerdir=\d+(:\d+){301},upperdir=\d+,workdir=\d+/m];

let root: string;
let cleanup: () => void;
let work: string;
let registry: RegistryServer;

interface Result { status: number | null; stdout: string; stderr: string }

/** The real CLI, without blocking the test worker for the minutes a deep build takes. */
function cli(storeRoot: string, args: string[], env: Record<string, string> = {}): Promise<Result> {
  const child = spawn(process.execPath, [tsbuildBin, '--root', storeRoot, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
}

async function ok(storeRoot: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const r = await cli(storeRoot, args, env);
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

/** FROM busybox, then `steps` RUN steps that each write one file: one layer per step. */
function deepContext(name: string, steps: number): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  const lines = ['FROM docker.io/library/busybox:stable'];
  for (let i = 1; i <= steps; i++) lines.push(`RUN echo ${i} > /f${i}`);
  lines.push('CMD ["cat", "/f1", "/f150", "/f300"]');
  writeFileSync(join(dir, 'Containerfile'), `${lines.join('\n')}\n`);
  return dir;
}

function layerCount(storeRoot: string, image: string): number {
  const out = execFileSync(process.execPath, [tsbuildBin, '--root', storeRoot, 'inspect', image], { encoding: 'utf8' });
  return (JSON.parse(out) as { config: { rootfs: { diff_ids: string[] } } }).config.rootfs.diff_ids.length;
}

/** Nothing a build or container made may outlive it: no mount, no container record. */
async function expectNothingLeft(storeRoot: string): Promise<void> {
  expect(hostMountsMentioning(storeRoot)).toEqual([]);
  expect((await ok(storeRoot, ['ps', '-a', '-q'])).trim()).toBe('');
  const tmp = join(storeRoot, 'tmp');
  expect(existsSync(tmp) ? readdirSync(tmp) : []).toEqual([]);
}

beforeAll(async () => {
  ({ root, cleanup } = tempRoot('depth'));
  work = mkdtempSync(join(tmpdir(), 'tsbuild-depth-work-'));
  registry = await startRegistry();
  await ok(root, ['load', '-i', busyboxLayout]);
});

afterAll(async () => {
  await registry?.stop();
  rmSync(work, { recursive: true, force: true });
  cleanup?.();
});

describe('deep images', () => {
  it('builds 300 RUN steps (301 layers) and runs the image, with both overlay mounts', async () => {
    await ok(root, ['build', '--progress', 'plain', '-t', 'deep:300', deepContext('deep300', 300)]);
    expect(layerCount(root, 'deep:300')).toBe(301);
    for (const [i, [, env]] of APIS.entries()) {
      expect(await ok(root, ['run', '--rm', 'deep:300'], env)).toBe('1\n150\n300\n');
      // The path asked for is the one taken: 301 image layers and the init layer.
      expect(await ok(root, ['run', '--rm', 'deep:300', 'cat', '/proc/mounts'], env)).toMatch(ROOT_LINE[i] as RegExp);
    }
    await expectNothingLeft(root);
  }, 1_800_000);

  it('builds steps on the deep image with the mount(2) fallback too', async () => {
    const dir = join(work, 'on-top');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'Containerfile'), 'FROM deep:300\nRUN cat /f300 /f1 > /both\nRUN echo more >> /both\n');
    await ok(root, ['build', '--no-cache', '-t', 'deep:302', dir], LEGACY);
    expect(await ok(root, ['run', '--rm', 'deep:302', 'cat', '/both'])).toBe('300\n1\nmore\n');
    await expectNothingLeft(root);
  }, 600_000);

  it('stops a 520-step build at the kernel limit in one line, at the step that passes it', async () => {
    // The first 300 steps are the cached ones of the 300-step build.
    const r = await cli(root, ['build', '-t', 'deep:520', deepContext('deep520', 520)]);
    expect(r.status).not.toBe(0);
    expectOneLineError(r.stderr.split('\n').filter((l) => l.startsWith('tsbuild: ')).join('\n'));
    // Step 500 would stack busybox, 499 step layers and its init layer: 501.
    expect(r.stderr).toMatch(/^tsbuild: max depth exceeded: this step \(on 500 layers\) needs 501 overlay layers, and the kernel's overlayfs stacks at most 500 \(Containerfile:501\)$/m);
    expect(r.stderr).not.toMatch(/No such file|mount overlay|\n\s+at /);
    await expectNothingLeft(root);
  }, 1_800_000);
});

describe('a deep image through the registry', () => {
  it('pushes 301 layers, pulls them into an empty store, and runs them with `run` and `from`', async () => {
    const ref = `${registry.host}/deep/image:300`;
    await ok(root, ['push', 'deep:300', ref]);
    // The registry's view, by skopeo (the oracle): every layer arrived.
    const inspected = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', `docker://${ref}`], { encoding: 'utf8' })) as { Layers: string[] };
    expect(inspected.Layers).toHaveLength(301);
    const fresh = tempRoot('depth-pull');
    try {
      await ok(fresh.root, ['pull', '-q', ref]);
      for (const [, env] of APIS) {
        expect(await ok(fresh.root, ['run', '--rm', ref], env)).toBe('1\n150\n300\n');
        const name = (await ok(fresh.root, ['from', ref], env)).trim();
        try {
          expect(await ok(fresh.root, ['run', name, 'cat', '/f299'], env)).toBe('299\n');
        } finally {
          await ok(fresh.root, ['rm', '-f', name]);
        }
      }
      await expectNothingLeft(fresh.root);
    } finally {
      fresh.cleanup();
    }
  }, 900_000);
});

describe('RUN --mount=type=bind,from=STAGE,source=SUBDIR', () => {
  it.each(APIS)('mounts the subdirectory as the stage shows it (%s)', async (_name, env) => {
    const dir = join(work, `bind-sub-${Object.keys(env).length}`);
    mkdirSync(dir, { recursive: true });
    // /out exists in only some of builder's layers, one file is removed again
    // (a whiteout), and the stage is deep enough that a lowerdir= string would not fit.
    const steps = Array.from({ length: 60 }, (_, i) => `RUN echo ${i} > /pad${i}`).join('\n');
    writeFileSync(join(dir, 'Containerfile'), [
      'FROM docker.io/library/busybox:stable AS builder',
      steps,
      'RUN mkdir -p /out/sub && echo x > /out/x && echo gone > /out/gone',
      'RUN echo y > /out/sub/y && rm /out/gone',
      'FROM docker.io/library/busybox:stable',
      'RUN --mount=type=bind,from=builder,source=out,target=/test cat /test/x /test/sub/y && test ! -e /test/gone && ls /test > /seen',
      'RUN --mount=type=bind,from=builder,source=/out/sub,target=/t2,rw echo scratch > /t2/new && cat /t2/y > /y',
      'RUN --mount=type=bind,from=builder,source=out/x,target=/x.txt cat /x.txt > /x',
      'RUN --mount=type=bind,from=builder,target=/b cat /b/pad0 /b/pad59 /b/out/sub/y > /whole',
      '',
    ].join('\n'));
    // --no-cache: the second API must run the steps itself, not find the first one's layers.
    await ok(root, ['build', '--no-cache', '-t', 'bindsub:1', dir], env);
    expect(await ok(root, ['run', '--rm', 'bindsub:1', 'cat', '/seen', '/y', '/x', '/whole'])).toBe('sub\nx\ny\nx\n0\n59\ny\n');
    // Mount points the steps needed are not in the image, nor are the rw bind's writes.
    expect((await cli(root, ['run', '--rm', 'bindsub:1', 'ls', '/test', '/t2'])).status).not.toBe(0);
    await expectNothingLeft(root);
  }, 600_000);

  it('names a source the stage lacks, in one line', async () => {
    const dir = join(work, 'bind-missing');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'Containerfile'), 'FROM docker.io/library/busybox:stable AS builder\nRUN mkdir /out\nFROM docker.io/library/busybox:stable\nRUN --mount=type=bind,from=builder,source=nope,target=/t true\n');
    const r = await cli(root, ['build', dir]);
    expect(r.status).not.toBe(0);
    expectOneLineError(r.stderr.split('\n').filter((l) => l.startsWith('tsbuild: ')).join('\n'));
    expect(r.stderr).toMatch(/tsbuild: mount source nope not found in builder \(Containerfile:4\)/);
    await expectNothingLeft(root);
  }, 300_000);
});
