// A symlink in an image must not lead a mount target out of the container's
// root: before the fix, `RUN ln -s /H /data` then a mount at /data/x made the
// runtime mkdir H/x on the host. Checked for RUN --mount in a build (absolute
// and `..` links) and for `run -v`, with a real host directory H that must
// stay empty. (The /dev, /proc, /sys refusal is in the unit tests: a RUN
// cannot replace its own mountpoints.)
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxLayout, tempRoot, tsbuild } from '../fixtures.js';

let root: string;
let cleanup: () => void;
let work: string;
let hostDir: string;

beforeAll(() => {
  ({ root, cleanup } = tempRoot('mount-targets'));
  work = mkdtempSync(join(tmpdir(), 'tsbuild-mount-targets-'));
  hostDir = join(work, 'host-victim');
  mkdirSync(hostDir);
  expect(tsbuild(root, ['load', '-i', busyboxLayout]).status).toBe(0);
  const ctx = join(work, 'ctx');
  mkdirSync(ctx);
  writeFileSync(join(ctx, 'Containerfile'), [
    'FROM docker.io/library/busybox:stable',
    `RUN ln -s ${hostDir} /data && ln -s ../../../../../../..${hostDir} /up`,
    'RUN --mount=type=tmpfs,target=/data/x --mount=type=cache,target=/up/cached touch /data/x/made-in-tmpfs /up/cached/y',
    '',
  ].join('\n'));
  const r = tsbuild(root, ['build', '--progress', 'plain', '-t', 'linky:1', ctx]);
  expect(r.status, r.stderr).toBe(0);
});

afterAll(() => {
  cleanup?.();
  rmSync(work, { recursive: true, force: true });
});

describe('mount targets behind symlinks', () => {
  it('RUN --mount puts the mount inside the root, not on the host', () => {
    expect(readdirSync(hostDir)).toEqual([]);
  });

  it('run -v follows the link inside the container and leaves the host alone', () => {
    const src = join(work, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'file'), 'from the volume\n');
    const r = tsbuild(root, ['run', '--rm', '-v', `${src}:/data/vol`, 'linky:1', 'cat', `${hostDir}/vol/file`]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('from the volume\n');
    expect(readdirSync(hostDir)).toEqual([]);
  });

});
