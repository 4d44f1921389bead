import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LayerView } from '../../../src/image/layer-view.js';
import { cleanupTemp, tempDir, tree } from '../../shared/copy-steps.js';

afterEach(cleanupTemp);

/** Opaque dirs given per layer, since trusted.* xattrs need root (the integration tests use real ones). */
function view(layers: string[], opaque: Record<number, string[]> = {}): LayerView {
  return new LayerView(layers, { opaque: (dir, rel) => (opaque[layers.indexOf(dir)] ?? []).includes(rel) });
}

describe('LayerView', () => {
  it('merges directories, the topmost layer deciding each name', () => {
    const l0 = tree(tempDir(), { 'etc/a': 'low', 'etc/b': 'low', 'usr/bin/': null });
    const l1 = tree(tempDir(), { 'etc/a': 'high', 'etc/c': 'new' });
    const v = view([l0, l1]);
    expect(v.readdir('/etc')).toEqual(['a', 'b', 'c']);
    expect(v.readdir('/')).toEqual(['etc', 'usr']);
    expect(v.hostPath('/etc/a')).toBe(join(l1, 'etc/a'));
    expect(v.hostPath('/etc/b')).toBe(join(l0, 'etc/b'));
    expect(v.readFile('/etc/a')).toBe('high');
    expect(v.lstat('/nope')).toBeUndefined();
  });

  it('stops merging at a non-directory and at an opaque directory', () => {
    const l0 = tree(tempDir(), { 'd/old': '', 'e/old': '' });
    const l1 = tree(tempDir(), { d: 'a file now' });
    const l2 = tree(tempDir(), { 'd/new': '', 'e/new': '' });
    const v = view([l0, l1, l2], { 2: ['e'] });
    expect(v.readdir('/d')).toEqual(['new']); // the file in l1 hides l0's directory
    expect(v.lstat('/d/old')).toBeUndefined();
    expect(v.readdir('/e')).toEqual(['new']);
    expect(v.lstat('/e/old')).toBeUndefined();
    expect(view([l0, l2]).readdir('/e')).toEqual(['new', 'old']);
  });

  it('applies an opaque ancestor to everything below it, and probes opacity only when a lower layer is reached', () => {
    const l0 = tree(tempDir(), { 'a/b/old': '', 'a/b/shared': 'low', 'x/y': '' });
    const l1 = tree(tempDir(), { 'a/b/new': '', 'a/b/shared': 'high', 'x/z': '' });
    const probes: string[] = [];
    const layers = [l0, l1];
    const v = new LayerView(layers, { opaque: (dir, rel) => { probes.push(`${layers.indexOf(dir)}:${rel}`); return layers.indexOf(dir) === 1 && rel === 'a'; } });
    expect(v.readFile('/a/b/shared')).toBe('high');
    expect(v.lstat('/x/z')).toBeDefined();
    expect(probes).toEqual([]); // answered by the top layer: no xattr needed
    expect(v.lstat('/a/b/old')).toBeUndefined();
    expect(v.readdir('/a/b')).toEqual(['new', 'shared']);
    expect(v.lstat('/x/y')).toBeDefined();
    expect(probes.sort()).toEqual(['1:a', '1:x']);
  });

  it('resolves symlinks inside the root: absolute targets from the root, `..` clamped', () => {
    const l0 = tree(tempDir(), {
      'opt/bin/': null, 'usr/local/bin -> /opt/bin': null, 'etc/passwd': 'root', 'up -> ../../../../etc': null, 'rel -> usr/local/bin': null,
    });
    const v = view([l0]);
    expect(v.resolve('/usr/local/bin/tool', { followFinal: true })).toBe('/opt/bin/tool');
    expect(v.resolve('/usr/local/bin', { followFinal: false })).toBe('/usr/local/bin');
    expect(v.resolve('/up/passwd', { followFinal: true })).toBe('/etc/passwd');
    expect(v.resolve('/../../etc/./passwd', { followFinal: true })).toBe('/etc/passwd');
    expect(v.resolve('/rel/x', { followFinal: true })).toBe('/opt/bin/x');
    expect(v.resolve('/missing/../etc', { followFinal: true })).toBe('/etc');
  });

  it('never follows a link to the host: an absolute target is inside the root', () => {
    const outside = tree(tempDir(), { secret: 'host' });
    const l0 = tree(tempDir(), { [`leak -> ${join(outside, 'secret')}`]: null });
    const v = view([l0]);
    expect(v.resolve('/leak', { followFinal: true })).toBe(`${join(outside, 'secret')}`);
    expect(v.readFile('/leak')).toBeUndefined(); // that path does not exist inside the root
  });

  it('gives up after 40 links', () => {
    const l0 = tempDir();
    symlinkSync('b', join(l0, 'a'));
    symlinkSync('a', join(l0, 'b'));
    expect(() => view([l0]).resolve('/a', { followFinal: true })).toThrow(/too many levels of symbolic links/);
  });

  it('follows a link whose target is in a lower layer', () => {
    const l0 = tree(tempDir(), { 'real/file': 'x' });
    const l1 = tempDir();
    mkdirSync(join(l1, 'etc'));
    symlinkSync('/real', join(l1, 'etc/alias'));
    writeFileSync(join(l1, 'etc/other'), '');
    const v = view([l0, l1]);
    expect(v.readFile('/etc/alias/file')).toBe('x');
    expect(v.readlink('/etc/alias')).toBe('/real');
  });
});
