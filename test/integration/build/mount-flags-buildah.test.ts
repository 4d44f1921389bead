// buildah's own mount flags (z, Z, U, tmpcopyup) against buildah itself,
// since BuildKit has none of them: the same Containerfile must print the
// same lines in both. One deliberate difference: buildah's U on a bind
// of the context chowns the user's files on the host; tsbuild gives the
// step a chowned copy and leaves the context alone. Another: buildah drops
// what the image had under a tmpfs target from the step's layer.
import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxStore, tsbuild } from '../fixtures.js';
import { bud, buildahStore, loadBusybox, type Buildah } from './buildah.js';
import { writeContext } from './context-dirs.js';

let root: string;
let cleanup: () => void;
let work: string;
let buildah: Buildah;

beforeAll(() => {
  ({ root, work, cleanup } = busyboxStore('flags-buildah'));
  buildah = buildahStore('flags');
  loadBusybox(buildah);
});
afterAll(() => {
  buildah?.cleanup();
  cleanup?.();
});

const TAGS = /^(copied|now|root|absent|sticky|after|cache|tmpfs):/;

const CONTAINERFILE = [
  'FROM busybox:stable',
  'RUN echo "app:x:1234:2345::/home/app:/bin/sh" >> /etc/passwd && echo "app:x:2345:" >> /etc/group && mkdir -p /home/app && chown 1234:2345 /home/app',
  'RUN mkdir -p /data && echo kept > /data/kept && mkdir /owned && chmod 0750 /owned && chown 7:8 /owned && mkdir -m 1777 /sticky && chown 7:8 /sticky',
  'RUN --mount=type=tmpfs,target=/data,tmpcopyup cat /data/kept | sed "s|^|copied:|" && echo new > /data/new && ls /data | sed "s|^|now:|"',
  'RUN --mount=type=tmpfs,target=/owned,tmpcopyup stat -c "root:%a %u:%g" /owned',
  'RUN --mount=type=tmpfs,target=/sticky,tmpcopyup stat -c "sticky:%a %u:%g" /sticky',
  'RUN --mount=type=tmpfs,target=/absent/dir,tmpcopyup stat -c "absent:%a %u:%g" /absent/dir',
  'RUN ls /data | sed "s|^|after:|"',
  'USER app',
  'RUN --mount=type=cache,id=flags-cache,target=/home/app/.cache,U,z touch /home/app/.cache/mine && stat -c "cache:%u:%g" /home/app/.cache /home/app/.cache/mine',
  'RUN --mount=type=bind,source=data,target=/d,U,Z,rw stat -c "bind:%u:%g" /d /d/f',
  '',
].join('\n');

function tagged(output: string, tags = TAGS): string[] {
  return output.split('\n').filter((l) => tags.test(l));
}

describe("buildah's mount flags, against buildah", () => {
  it('prints what buildah prints for tmpcopyup, U and z/Z', () => {
    const oursDir = writeContext(work, 'ours', CONTAINERFILE, { 'data/f': 'context\n' });
    const theirsDir = writeContext(work, 'theirs', CONTAINERFILE, { 'data/f': 'context\n' });
    const ours = tsbuild(root, ['build', '--progress', 'plain', oursDir], { timeout: 120_000 });
    if (ours.status !== 0) throw new Error(`tsbuild build failed:\n${ours.stderr}`);
    const theirs = bud(buildah, { file: join(theirsDir, 'Containerfile'), tag: 'flags:1', context: theirsDir });
    if (theirs.status !== 0) throw new Error(`buildah bud failed:\n${theirs.stderr}`);
    const theirLines = tagged(theirs.stdout + theirs.stderr);
    expect(theirLines).toContain('copied:kept');
    expect(tagged(ours.stderr).filter((l) => !l.startsWith('after:'))).toEqual(theirLines);
    // buildah 1.28 commits the step with a tmpfs on /data as if /data were
    // emptied (its later `ls /data` prints nothing); a tmpfs mount never
    // changes the layer beneath it, as in BuildKit, so /data/kept stays.
    expect(tagged(ours.stderr).filter((l) => l.startsWith('after:'))).toEqual(['after:kept']);
    // Both show the bind as the step user's ...
    const bindTags = /^bind:/;
    expect(tagged(ours.stderr, bindTags)).toEqual(['bind:1234:2345', 'bind:1234:2345']);
    expect(tagged(theirs.stdout + theirs.stderr, bindTags)).toEqual(['bind:1234:2345', 'bind:1234:2345']);
    // ... but only buildah chowned the context on the host.
    expect(lstatSync(join(theirsDir, 'data/f')).uid).toBe(1234);
    expect(lstatSync(join(oursDir, 'data/f')).uid).toBe(0);
  });
});
