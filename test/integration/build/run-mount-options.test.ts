// RUN --mount beyond the basics engine.test.ts covers: a cache seeded
// from= a stage or image (once per id and source content, as BuildKit
// does), buildah's U / z / Z / tmpcopyup flags, and the error a heredoc
// with a missing #! interpreter gives.
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layerPaths as imageLayerPaths, writeContext } from './context-dirs.js';
import { busyboxStore, hostMountsMentioning, tsbuild } from '../fixtures.js';

let root: string;
let cleanup: () => void;
let work: string;

beforeAll(() => {
  ({ root, work, cleanup } = busyboxStore('mountopts'));
});
afterAll(() => cleanup?.());

function context(name: string, containerfile: string, files: Record<string, string> = {}): string {
  return writeContext(work, name, containerfile, files);
}

function build(dir: string, ...args: string[]) {
  const r = tsbuild(root, ['build', '--progress', 'plain', ...args, dir], { timeout: 120_000 });
  if (r.status !== 0) throw new Error(`build failed:\n${r.stderr}`);
  return r;
}

/** RUN output lines between markers `<tag>:` … so assertions read one step's output. */
function marked(stderr: string, tag: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith(`${tag}:`)).map((l) => l.slice(tag.length + 1));
}

function layerPaths(image: string): string[] {
  return imageLayerPaths(root, work, image);
}

const USER_SETUP = 'RUN echo "app:x:1234:2345::/home/app:/bin/sh" >> /etc/passwd && echo "app:x:2345:" >> /etc/group && mkdir -p /home/app && chown 1234:2345 /home/app';

describe('RUN --mount=type=cache,from=', () => {
  const file = (seed: string) => [
    'FROM busybox:stable AS seed',
    `RUN mkdir -p /seed/sub && echo ${seed} > /seed/sub/a && chmod 0750 /seed && chown 7:8 /seed/sub/a`,
    'FROM busybox:stable',
    'ARG RUNID',
    'RUN --mount=type=cache,id=seeded,target=/c,from=seed,source=/seed \\',
    '    echo "$RUNID" >> /c/log && for f in /c/sub/a /c/log; do sed "s|^|seen:$f=|" $f; done && stat -c "root:%a" /c && stat -c "owner:%u:%g" /c/sub/a',
    'RUN --mount=type=cache,id=seeded,target=/plain ls -A /plain | sed "s|^|plain:|"; true',
  ].join('\n');

  it('seeds a new cache from the stage, then keeps it (writes and all) instead of seeding again', () => {
    const dir = context('cache-from', file('v1'));
    const first = build(dir, '--build-arg', 'RUNID=one');
    expect(marked(first.stderr, 'seen')).toEqual(['/c/sub/a=v1', '/c/log=one']);
    // The seed keeps modes and owners; the mount's root is the source directory.
    expect(marked(first.stderr, 'root')).toEqual(['750']);
    expect(marked(first.stderr, 'owner')).toEqual(['7:8']);
    // The same id without from= is another cache: empty.
    expect(marked(first.stderr, 'plain')).toEqual([]);

    // The seed stage comes from the build cache (the same layers); the new
    // RUNID reruns the step, which finds the cache it wrote to before.
    const second = build(dir, '--build-arg', 'RUNID=two');
    expect(marked(second.stderr, 'seen')).toEqual(['/c/sub/a=v1', '/c/log=one', '/c/log=two']);
  });

  it('seeds afresh when the source stage changes (the cache is keyed by the source content)', () => {
    const dir = context('cache-from-changed', file('v2'));
    const r = build(dir, '--build-arg', 'RUNID=three');
    expect(marked(r.stderr, 'seen')).toEqual(['/c/sub/a=v2', '/c/log=three']);
  });

  it('seeds from an image, and a missing source= is a located error', () => {
    const dir = context('cache-from-image', 'FROM busybox:stable\nRUN --mount=type=cache,target=/c,from=busybox:stable,source=/etc,sharing=locked grep -c "^root:" /c/passwd | sed "s|^|count:|"\n');
    expect(marked(build(dir).stderr, 'count')).toEqual(['1']);
    const bad = context('cache-from-missing', 'FROM busybox:stable AS seed\nFROM busybox:stable\nRUN --mount=type=cache,target=/c,from=seed,source=/no/such/dir true\n');
    const r = tsbuild(root, ['build', '--progress', 'plain', bad]);
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(/^tsbuild: mount source \/no\/such\/dir of seed: .*\(Containerfile:3\)$/);
    expect(readdirSync(join(root, 'tmp')).filter((n) => n.startsWith('cache-seed-'))).toEqual([]);
  });
});

describe("buildah's mount flags", () => {
  it('U gives a cache, a tmpfs and a bind to the step user; the context is never chowned', () => {
    const dir = context('flag-u', [
      'FROM busybox:stable',
      USER_SETUP,
      'USER app',
      'RUN --mount=type=cache,id=u-cache,target=/home/app/.cache,U,z touch /home/app/.cache/mine && stat -c "cache:%u:%g" /home/app/.cache /home/app/.cache/mine',
      'RUN --mount=type=tmpfs,target=/scratch,U touch /scratch/x && stat -c "tmpfs:%u:%g" /scratch /scratch/x',
      'RUN --mount=type=bind,source=data,target=/d,U,Z stat -c "bind:%u:%g" /d /d/f && cat /d/f | sed "s|^|content:|"',
      'RUN --mount=type=bind,from=busybox:stable,source=/etc,target=/e,U,rw stat -c "bindfrom:%u:%g" /e/passwd && echo w > /e/new',
    ].join('\n'), { 'data/f': 'from-context\n' });
    const r = build(dir, '-t', 'flag-u:1');
    expect(marked(r.stderr, 'cache')).toEqual(['1234:2345', '1234:2345']);
    expect(marked(r.stderr, 'tmpfs')).toEqual(['1234:2345', '1234:2345']);
    expect(marked(r.stderr, 'bind')).toEqual(['1234:2345', '1234:2345']);
    expect(marked(r.stderr, 'content')).toEqual(['from-context']);
    expect(marked(r.stderr, 'bindfrom')).toEqual(['1234:2345']);
    expect(lstatSync(join(dir, 'data/f')).uid).toBe(0);
    const paths = layerPaths('flag-u:1');
    expect(paths.filter((p) => /scratch|^d\/|^e\/|\.cache/.test(p))).toEqual([]);
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
  });

  it('tmpcopyup shows the image content at the target in a tmpfs, and writes stay out of the layer', () => {
    const dir = context('tmpcopyup', [
      'FROM busybox:stable',
      'RUN mkdir -p /data && echo kept > /data/kept',
      'RUN --mount=type=tmpfs,target=/data,tmpcopyup cat /data/kept | sed "s|^|copied:|" && echo new > /data/new && rm /data/kept && ls /data | sed "s|^|now:|"',
      'RUN --mount=type=tmpfs,target=/data ls -A /data | sed "s|^|plain:|"; true',
      'RUN ls /data | sed "s|^|after:|"',
      // The mount's root has the target's mode, and is root's, as in buildah (overlayfs takes them from the upper).
      'RUN mkdir /owned && chmod 0750 /owned && chown 7:8 /owned',
      'RUN --mount=type=tmpfs,target=/owned,tmpcopyup stat -c "root:%a %u:%g" /owned',
      'RUN --mount=type=tmpfs,target=/absent/dir,tmpcopyup stat -c "absent:%a %u:%g" /absent/dir && touch /absent/dir/x',
    ].join('\n'));
    const r = build(dir, '-t', 'tmpcopyup:1');
    expect(marked(r.stderr, 'copied')).toEqual(['kept']);
    expect(marked(r.stderr, 'now')).toEqual(['new']);
    expect(marked(r.stderr, 'plain')).toEqual([]);
    expect(marked(r.stderr, 'after')).toEqual(['kept']);
    expect(marked(r.stderr, 'root')).toEqual(['750 0:0']);
    expect(marked(r.stderr, 'absent')).toEqual(['1777 0:0']);
    expect(layerPaths('tmpcopyup:1').filter((p) => p.includes('data/new') || p.includes('.wh.') || p.startsWith('absent'))).toEqual([]);
    expect(hostMountsMentioning(root)).toEqual([]);
  });
});

describe('heredoc RUN with a #! interpreter the image lacks', () => {
  it('names the interpreter and the #! line, not an internal path', () => {
    const dir = context('shebang', 'FROM busybox:stable\nRUN echo before\nRUN <<EOF\n#!/usr/bin/python3\nprint("hi")\nEOF\n');
    const r = tsbuild(root, ['build', '--progress', 'plain', dir]);
    expect(r.status).not.toBe(0);
    const last = r.stderr.trim().split('\n').at(-1);
    expect(last).toBe('tsbuild: RUN: /usr/bin/python3: not found (Containerfile:4)');
    expect(r.stderr).not.toContain('tsbuild-run-script');
  });

  it('still runs a heredoc whose interpreter exists', () => {
    const dir = context('shebang-ok', 'FROM busybox:stable\nRUN <<EOF\n#!/bin/sh -e\necho "script:ran"\nEOF\n');
    expect(marked(build(dir).stderr, 'script')).toEqual(['ran']);
  });
});
