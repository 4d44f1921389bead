// Every image a build names is resolved before any stage runs: a missing
// image or an unreachable registry named by a later stage fails the build
// with one line at that stage's line, and the earlier stages' RUN steps
// never start. Images only a stage outside --target names do not count.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxStore, expectOneLineError, tempRoot, tsbuild } from '../fixtures.js';
import { freePort, startRegistry, type RegistryServer } from '../registry-server.js';

let root: string;
let cleanup: () => void;
let work: string;
let registry: RegistryServer;

beforeAll(async () => {
  ({ root, work, cleanup } = busyboxStore('resolve'));
  registry = await startRegistry();
});
afterAll(async () => {
  await registry?.stop();
  cleanup?.();
});

function build(name: string, containerfile: string, ...args: string[]) {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'Containerfile'), containerfile);
  return tsbuild(root, ['build', '--progress', 'plain', ...args, dir], { timeout: 120_000 });
}


const FIRST_STAGE = 'FROM busybox:stable AS first\nRUN echo first-stage-ran > /marker\n';

describe('images are resolved before any stage runs', () => {
  it('fails on a FROM naming an image the registry lacks, before the first stage runs', () => {
    const r = build('missing-from', `${FIRST_STAGE}FROM ${registry.host}/no/such-image:1\nCOPY --from=first /marker /marker\n`);
    expect(r.status).not.toBe(0);
    expectOneLineError(r.stderr);
    expect(r.stderr).toMatch(/\(Containerfile:3\)$/m);
    expect(r.stderr).toContain(`${registry.host}/no/such-image`);
    // No STEP line, no RUN output: the first stage never started.
    expect(r.stderr).not.toContain('first-stage-ran');
    expect(r.stderr).not.toContain('STEP');
  });

  it('fails on COPY --from and RUN --mount from= naming a missing image, at their lines', () => {
    const copy = build('missing-copy', `${FIRST_STAGE}FROM busybox:stable\nCOPY --from=${registry.host}/no/copy-src:1 /x /x\n`);
    expect(copy.status).not.toBe(0);
    expectOneLineError(copy.stderr);
    expect(copy.stderr).toMatch(/\(Containerfile:4\)$/m);
    expect(copy.stderr).not.toContain('first-stage-ran');

    const mount = build('missing-mount', `${FIRST_STAGE}FROM busybox:stable\nRUN echo second\nRUN --mount=type=bind,from=${registry.host}/no/mount-src:1,target=/m true\n`);
    expect(mount.status).not.toBe(0);
    expectOneLineError(mount.stderr);
    expect(mount.stderr).toMatch(/\(Containerfile:5\)$/m);
    expect(mount.stderr).not.toContain('first-stage-ran');
  });

  it('fails on an image in an unreachable registry before the first stage runs', async () => {
    // Free a moment ago, and nothing listens on it now.
    const port = await freePort();
    const r = build('unreachable', `${FIRST_STAGE}FROM 127.0.0.1:${port}/app/base:1\nCOPY --from=first /marker /marker\n`);
    expect(r.status).not.toBe(0);
    expectOneLineError(r.stderr);
    expect(r.stderr).toContain(`127.0.0.1:${port}`);
    expect(r.stderr).toMatch(/\(Containerfile:3\)$/m);
    expect(r.stderr).not.toContain('first-stage-ran');
    expect(r.stderr).not.toContain('STEP');
  });

  it('ignores images only stages outside --target name', () => {
    const r = build('target-only', `${FIRST_STAGE}FROM ${registry.host}/no/such-image:1 AS unused\nRUN true\n`, '--target', 'first');
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('first-stage-ran');
  });

  it('pulls an image the registry has, resolved first and pulled when the stage needs it', async () => {
    const ref = `${registry.host}/lib/busybox:stable`;
    expect(tsbuild(root, ['push', 'busybox:stable', ref]).status).toBe(0);
    const other = tempRoot('resolve-pull');
    try {
      const dir = join(work, 'pulls');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'Containerfile'), `FROM ${ref}\nRUN echo pulled-and-ran\n`);
      const r = tsbuild(other.root, ['build', '--progress', 'plain', dir], { timeout: 120_000 });
      expect(r.status).toBe(0);
      expect(r.stderr).toContain('pulled-and-ran');
    } finally {
      other.cleanup();
    }
  });
});
