// Mount targets are resolved inside the container's layer stack, so that a
// link in the image (or in the container's own rw layer) cannot make the
// runtime create a mountpoint on the host. No root needed: plain dirs and
// symlinks stand in for layers.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveMountTargets } from '../../../src/run/mount-targets.js';

let dir: string;
let lower: string;
let upper: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsbuild-unit-mounts-'));
  lower = join(dir, 'lower');
  upper = join(dir, 'upper');
  mkdirSync(join(lower, 'srv/real'), { recursive: true });
  mkdirSync(upper);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const targets = (binds: { target: string }[]): string[] => resolveMountTargets([lower, upper], binds).map((b) => b.target);

describe('mount targets', () => {
  it('follows links inside the root: absolute ones restart at the root, `..` stops there', () => {
    symlinkSync('/srv/real', join(lower, 'data'));
    symlinkSync('../../../../../srv', join(lower, 'up'));
    expect(targets([{ target: '/data/x' }, { target: '/up/real/y' }, { target: '/srv/new/z' }])).toEqual(['/srv/real/x', '/srv/real/y', '/srv/new/z']);
  });

  it('sees links the container made in its own rw layer', () => {
    symlinkSync('/srv', join(upper, 'cache'));
    expect(targets([{ target: '/cache/real' }])).toEqual(['/srv/real']);
  });

  it('keeps the rest of each mount and leaves targets under /proc, /sys and /dev alone', () => {
    symlinkSync('/srv/real', join(lower, 'data'));
    const out = resolveMountTargets([lower, upper], [{ target: '/data', source: '/host/x', readonly: true }, { target: '/proc/meminfo', source: '/m', readonly: true }]);
    expect(out).toEqual([{ target: '/srv/real', source: '/host/x', readonly: true }, { target: '/proc/meminfo', source: '/m', readonly: true }]);
  });

  it('refuses an image whose /dev, /proc or /sys is a link, in one line', () => {
    symlinkSync('/tmp', join(lower, 'dev'));
    expect(() => targets([])).toThrow(expect.objectContaining({ code: 'E_UNSAFE_ROOTFS', message: expect.stringMatching(/^the image's \/dev is a symbolic link/) }));
  });
});
