// The build cache through the real CLI: a repeated build is all hits and
// yields the same layers; a one-byte change in a COPY source (same size, same
// mtime) misses from that step on while earlier steps still hit; a touch
// (mtime only) still hits; --no-cache rebuilds every step.
import { mkdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxLayout, tempRoot, tsbuild } from '../fixtures.js';
import { buildOk, diffIds, layerSteps } from './progress-steps.js';

let root: string;
let cleanup: () => void;
let ctx: string;
let file: string;

const CONTAINERFILE = `FROM busybox:stable
RUN echo one > /one && cat /proc/sys/kernel/random/uuid > /built-at-1
COPY a.txt /a.txt
RUN cat /a.txt > /a-copy && cat /proc/sys/kernel/random/uuid > /built-at-2
COPY dir /dir
RUN ls -l /dir > /dir-list && cat /proc/sys/kernel/random/uuid > /built-at-3
ENV DONE=1
`;

beforeAll(() => {
  ({ root, cleanup } = tempRoot('build-cache'));
  const loaded = tsbuild(root, ['load', '-i', busyboxLayout]);
  if (loaded.status !== 0) throw new Error(loaded.stderr);
  ctx = join(root, 'ctx');
  mkdirSync(join(ctx, 'dir'), { recursive: true });
  writeFileSync(join(ctx, 'a.txt'), 'alpha\n');
  writeFileSync(join(ctx, 'dir/c.txt'), 'charlie\n');
  writeFileSync(join(ctx, 'dir/d.txt'), 'delta\n');
  file = join(ctx, 'Containerfile');
  writeFileSync(file, CONTAINERFILE);
});

afterAll(() => cleanup?.());

const build = (tag: string, extra: string[] = []) => buildOk(root, ['-f', file, '-t', tag, ...extra, ctx]);

describe('build cache', () => {
  let first: string[];

  it('a first build runs every step; a second is all hits with the same layers', () => {
    const s1 = build('cache:1');
    expect(layerSteps(s1)).toEqual([
      'RUN echo one > /one && cat /proc/sys/kernel/random/uuid > /built-at-1 => built',
      'COPY a.txt /a.txt => built',
      'RUN cat /a.txt > /a-copy && cat /proc/sys/kernel/random/uuid > /built-at-2 => built',
      'COPY dir /dir => built',
      'RUN ls -l /dir > /dir-list && cat /proc/sys/kernel/random/uuid > /built-at-3 => built',
    ]);
    first = diffIds(root, 'cache:1');
    expect(first).toHaveLength(6); // busybox + five layer steps

    const s2 = build('cache:2');
    expect(layerSteps(s2).every((l) => l.endsWith('=> cached')), layerSteps(s2).join('\n')).toBe(true);
    expect(layerSteps(s2)).toHaveLength(5);
    // The RUN steps write a fresh random UUID (busybox date has no %N, and two builds
    // can land in one second): equal layers can only be the cached ones.
    expect(diffIds(root, 'cache:2')).toEqual(first);
  });

  it('one changed byte in a COPY source (same size, same mtime) misses from that step on', () => {
    const c = join(ctx, 'dir/c.txt');
    const before = statSync(c);
    writeFileSync(c, 'charlie\n'.replace('h', 'H'));
    utimesSync(c, before.atime, before.mtime);
    expect(statSync(c).size).toBe(before.size);

    const s = build('cache:3');
    expect(layerSteps(s)).toEqual([
      'RUN echo one > /one && cat /proc/sys/kernel/random/uuid > /built-at-1 => cached',
      'COPY a.txt /a.txt => cached',
      'RUN cat /a.txt > /a-copy && cat /proc/sys/kernel/random/uuid > /built-at-2 => cached',
      'COPY dir /dir => built',
      'RUN ls -l /dir > /dir-list && cat /proc/sys/kernel/random/uuid > /built-at-3 => built',
    ]);
    const ids = diffIds(root, 'cache:3');
    expect(ids.slice(0, 4)).toEqual(first.slice(0, 4));
    expect(ids[4]).not.toBe(first[4]);
    expect(ids[5]).not.toBe(first[5]);
  });

  it('touching a source (mtime only) still hits every step', () => {
    const ids = diffIds(root, 'cache:3');
    const later = new Date(Date.now() + 3600_000);
    utimesSync(join(ctx, 'a.txt'), later, later);
    utimesSync(join(ctx, 'dir/d.txt'), later, later);
    utimesSync(join(ctx, 'dir'), later, later);
    const s = build('cache:4');
    expect(layerSteps(s).every((l) => l.endsWith('=> cached')), layerSteps(s).join('\n')).toBe(true);
    expect(diffIds(root, 'cache:4')).toEqual(ids);
  });

  it('--no-cache rebuilds every step', () => {
    const ids = diffIds(root, 'cache:4');
    const s = build('cache:5', ['--no-cache']);
    expect(layerSteps(s)).toEqual([
      'RUN echo one > /one && cat /proc/sys/kernel/random/uuid > /built-at-1 => built',
      'COPY a.txt /a.txt => built',
      'RUN cat /a.txt > /a-copy && cat /proc/sys/kernel/random/uuid > /built-at-2 => built',
      'COPY dir /dir => built',
      'RUN ls -l /dir > /dir-list && cat /proc/sys/kernel/random/uuid > /built-at-3 => built',
    ]);
    const fresh = diffIds(root, 'cache:5');
    expect(fresh[0]).toBe(ids[0]); // the base image's layer is not a step
    // Every RUN wrote a new time, so its layer is new.
    for (const i of [1, 3, 5]) expect(fresh[i], `layer ${i}`).not.toBe(ids[i]);
  });
});
