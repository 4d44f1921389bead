import { chmodSync, linkSync, lstatSync, mkdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { applyCopy } from '../../../../src/build/copy/index.js';
import { IgnoreMatcher, parseIgnoreFile } from '../../../../src/build/context/index.js';
import type { TsbuildError } from '../../../../src/errors.js';
import { cleanupTemp, contextStep, copyIns, heredoc, listing, modeOf, tempDir, tree } from '../../../shared/copy-steps.js';

afterEach(cleanupTemp);

async function copy(ins: ReturnType<typeof copyIns>, context: string, opts: { lower?: string[]; workdir?: string; ignore?: string } = {}): Promise<string> {
  const layer = tempDir('tsb-layer-');
  const step = contextStep(ins, context, opts.lower ?? [], {
    workdir: opts.workdir ?? '/',
    ...(opts.ignore === undefined ? {} : { ignore: new IgnoreMatcher(parseIgnoreFile(opts.ignore)) }),
  });
  await applyCopy(step, layer);
  return layer;
}

async function copyError(ins: ReturnType<typeof copyIns>, context: string, opts: { lower?: string[]; ignore?: string } = {}): Promise<TsbuildError> {
  try {
    await copy(ins, context, opts);
  } catch (err) {
    return err as TsbuildError;
  }
  throw new Error('expected the copy to fail');
}

describe('COPY sources', () => {
  it('expands wildcards per path segment', async () => {
    const ctx = tree(tempDir(), { 'a.txt': 'a', 'b.txt': 'b', 'c.md': 'c', 'sub1/x.txt': '1', 'sub2/x.txt': '2', 'sub2/y.md': 'y' });
    expect(listing(await copy(copyIns(['*.txt'], '/dst/'), ctx))).toEqual(['dst/', 'dst/a.txt=a', 'dst/b.txt=b']);
    expect(listing(await copy(copyIns(['sub?/*.txt', '[c]*'], '/d/'), ctx))).toEqual(['d/', 'd/c.md=c', 'd/x.txt=2']);
  });

  it('copies a directory\'s contents, not the directory', async () => {
    const ctx = tree(tempDir(), { 'dir/a': 'a', 'dir/sub/b': 'b' });
    expect(listing(await copy(copyIns(['dir'], '/app'), ctx))).toEqual(['app/', 'app/a=a', 'app/sub/', 'app/sub/b=b']);
    expect(listing(await copy(copyIns(['.'], '/'), ctx))).toEqual(['dir/', 'dir/a=a', 'dir/sub/', 'dir/sub/b=b']);
  });

  it('reports a missing source with docker\'s wording and the instruction\'s line', async () => {
    const err = await copyError(copyIns(['nope.txt'], '/x'), tempDir());
    expect(err.code).toBe('E_SOURCE_NOT_FOUND');
    expect(err.message).toBe('"/nope.txt": not found');
    expect(err.location).toEqual({ file: 'Containerfile', line: 7 });
  });

  it('lets a wildcard match nothing, as BuildKit does (buildah 1.28 fails when no source matches)', async () => {
    const ctx = tree(tempDir(), { 'a.txt': 'a', 'b.txt': 'b' });
    expect(listing(await copy(copyIns(['*.none'], '/x/'), ctx))).toEqual([]); // nothing, not even /x
    expect(listing(await copy(copyIns(['*foo', '*.txt'], '/d/'), ctx))).toEqual(['d/', 'd/a.txt=a', 'd/b.txt=b']);
    expect((await copyError(copyIns(['nope', '*.txt'], '/d/'), ctx)).code).toBe('E_SOURCE_NOT_FOUND');
  });

  it('keeps the source path with --parents, from a /./ marker when there is one', async () => {
    const ctx = tree(tempDir(), { 'a/b/f.txt': 'f', 'c/g.txt': 'g', 'x/y/z/h.txt': 'h' });
    expect(listing(await copy(copyIns(['a/b/f.txt', 'c/*.txt', 'x/./y/z/h.txt'], '/dst', { parents: true }), ctx))).toEqual([
      'dst/', 'dst/a/', 'dst/a/b/', 'dst/a/b/f.txt=f', 'dst/c/', 'dst/c/g.txt=g', 'dst/y/', 'dst/y/z/', 'dst/y/z/h.txt=h',
    ]);
  });

  it('leaves out --exclude matches, relative to what is copied', async () => {
    const ctx = tree(tempDir(), { 'd/keep.txt': 'k', 'd/drop.log': 'x', 'd/deep/drop.log': 'x', 'd/deep/keep.txt': 'k', 'd/tmp/x': 'x', 'top.log': 'x' });
    const ins = copyIns(['d', 'top.log'], '/dst/', { exclude: ['**/*.log', 'tmp'] });
    expect(listing(await copy(ins, ctx))).toEqual(['dst/', 'dst/deep/', 'dst/deep/keep.txt=k', 'dst/keep.txt=k']);
  });

  it('hides ignored paths, and brings back exceptions inside ignored directories', async () => {
    const ctx = tree(tempDir(), { 'app.js': 'a', 'secret.env': 's', 'logs/a.log': 'x', 'logs/keep.txt': 'k', 'node_modules/m/i.js': 'm' });
    const ignore = '*.env\nlogs\n!logs/keep.txt\nnode_modules\n';
    expect(listing(await copy(copyIns(['.'], '/app/'), ctx, { ignore }))).toEqual(['app/', 'app/app.js=a', 'app/logs/', 'app/logs/keep.txt=k']);
    const err = await copyError(copyIns(['secret.env'], '/x'), ctx, { ignore });
    expect(err.code).toBe('E_SOURCE_EXCLUDED');
    expect(err.message).toBe('"/secret.env": not found: excluded from the build context by .dockerignore');
  });

  // issue 9's example: BuildKit (dockerd 20.10) and buildah 1.28 both copy
  // only test2.txt and test2dir/a, and both fail `COPY subdir ./`.
  it('does not let an exception with a wildcard first segment reach into an ignored directory', async () => {
    const ctx = tree(tempDir(), {
      'test1.txt': '1', 'test2.txt': '2', 'other.txt': 'o', 'test2dir/a': 'a', 'sub1dir/x/b': 'b',
      'subdir/sub1.txt': 's1', 'subdir/sub2.txt': 's2', 'subdir/test2.txt': 't2',
    });
    const ignore = '*\ntest*\n!test2*\nsubdir\n!*/sub1*\n';
    expect(listing(await copy(copyIns(['./'], './'), ctx, { ignore }))).toEqual(['test2.txt=2', 'test2dir/', 'test2dir/a=a']);
    expect((await copyError(copyIns(['subdir'], './'), ctx, { ignore })).code).toBe('E_SOURCE_EXCLUDED');
    expect((await copyError(copyIns(['subdir/sub1.txt'], './'), ctx, { ignore })).code).toBe('E_SOURCE_EXCLUDED');
    expect(listing(await copy(copyIns(['sub*'], '/s/'), ctx, { ignore }))).toEqual([]);
  });

  it('enters an ignored directory for an exception that names a path inside it', async () => {
    const ctx = tree(tempDir(), { 'foo/bar/x': 'x', 'foo/other': 'o', 'logs/keep.txt': 'k', 'logs/z': 'z' });
    const ignore = 'foo\n!foo/bar/baz\nlogs\n!logs/keep.txt\n';
    // BuildKit 20.10 also sends foo/ and foo/bar/ empty; buildah 1.28 and later BuildKit do not.
    expect(listing(await copy(copyIns(['.'], '/'), ctx, { ignore }))).toEqual(['logs/', 'logs/keep.txt=k']);
  });
});

describe('COPY destinations', () => {
  it('names a single file after a destination without a trailing slash', async () => {
    const ctx = tree(tempDir(), { 'f.txt': 'f' });
    expect(listing(await copy(copyIns(['f.txt'], '/etc/app.conf'), ctx))).toEqual(['etc/', 'etc/app.conf=f']);
    expect(listing(await copy(copyIns(['f.txt'], '/etc/'), ctx))).toEqual(['etc/', 'etc/f.txt=f']);
  });

  it('puts a file inside a destination that is already a directory in the image', async () => {
    const ctx = tree(tempDir(), { 'f.txt': 'f' });
    const lower = tree(tempDir(), { 'srv/': null });
    expect(listing(await copy(copyIns(['f.txt'], '/srv'), ctx, { lower: [lower] }))).toEqual(['srv/', 'srv/f.txt=f']);
  });

  // BuildKit (dockerd 20.10) places several sources one after another by the
  // single-source rule; buildah 1.28 makes the destination a directory.
  it('places several sources without a trailing slash one after another, as BuildKit', async () => {
    const ctx = tree(tempDir(), { a: 'a', b: 'b', c1: '1', c2: '2', 'dd/x': 'x', 'one.md': 'm' });
    expect(listing(await copy(copyIns(['a', 'b'], '/dst'), ctx))).toEqual(['dst=b']); // the last file wins
    expect(listing(await copy(copyIns(['c*'], '/dst'), ctx))).toEqual(['dst=2']);
    expect(listing(await copy(copyIns(['c1*'], '/one'), ctx))).toEqual(['one=1']); // one match is one file
    expect(listing(await copy(copyIns(['d*', '*.md'], '/mixed'), ctx))).toEqual(['mixed/', 'mixed/one.md=m', 'mixed/x=x']);
    expect(listing(await copy(copyIns(['a', 'dd'], '/m2'), ctx))).toEqual(['m2/', 'm2/x=x']); // a directory replaces the file
    const lower = tree(tempDir(), { 'srv/': null });
    expect(listing(await copy(copyIns(['a', 'b'], '/srv'), ctx, { lower: [lower] }))).toEqual(['srv/', 'srv/a=a', 'srv/b=b']);
  });

  it('places relative destinations under WORKDIR', async () => {
    const ctx = tree(tempDir(), { 'f.txt': 'f' });
    expect(listing(await copy(copyIns(['f.txt'], 'sub/'), ctx, { workdir: '/app' }))).toEqual(['app/', 'app/sub/', 'app/sub/f.txt=f']);
    expect(listing(await copy(copyIns(['f.txt'], '.'), ctx, { workdir: '/app' }))).toEqual(['app/', 'app/f.txt=f']);
    expect(listing(await copy(copyIns(['f.txt'], 'renamed'), ctx, { workdir: '/app' }))).toEqual(['app/', 'app/renamed=f']);
  });

  it('follows a symlinked directory of the image, inside its root, keeping parents\' metadata', async () => {
    const ctx = tree(tempDir(), { tool: '#!' });
    const lower = tree(tempDir(), { 'opt/bin/': null, 'usr/local/bin -> /opt/bin': null });
    chmodSync(join(lower, 'opt'), 0o750);
    const layer = await copy(copyIns(['tool'], '/usr/local/bin/'), ctx, { lower: [lower] });
    expect(listing(layer)).toEqual(['opt/', 'opt/bin/', 'opt/bin/tool=#!']);
    expect(modeOf(join(layer, 'opt'))).toBe(0o750);
    expect(modeOf(join(layer, 'opt/bin'))).toBe(statSync(join(lower, 'opt/bin')).mode & 0o7777);
  });

  it('replaces a symlink at a file destination instead of writing through it', async () => {
    const ctx = tree(tempDir(), { f: 'new' });
    const lower = tree(tempDir(), { 'etc/target': 'old', 'etc/link -> /etc/target': null });
    expect(listing(await copy(copyIns(['f'], '/etc/link'), ctx, { lower: [lower] }))).toEqual(['etc/', 'etc/link=new']);
  });

  it('refuses a destination below a file of the image', async () => {
    const ctx = tree(tempDir(), { f: '' });
    const lower = tree(tempDir(), { 'etc/passwd': '' });
    expect((await copyError(copyIns(['f'], '/etc/passwd/x'), ctx, { lower: [lower] })).code).toBe('E_DEST_NOT_DIR');
  });

  it('creates missing parents 0755 and keeps modes and mtimes of copied entries', async () => {
    const ctx = tree(tempDir(), { 'd/run.sh': 'x', 'd/private/': null });
    chmodSync(join(ctx, 'd/run.sh'), 0o750);
    chmodSync(join(ctx, 'd/private'), 0o700);
    const layer = await copy(copyIns(['d'], '/a/b/c/'), ctx);
    expect(modeOf(join(layer, 'a'))).toBe(0o755);
    expect(modeOf(join(layer, 'a/b/c'))).toBe(0o755);
    expect(modeOf(join(layer, 'a/b/c/run.sh'))).toBe(0o750);
    expect(modeOf(join(layer, 'a/b/c/private'))).toBe(0o700);
    // Microsecond precision: utimes takes a double of seconds.
    expect(Math.abs(lstatSync(join(layer, 'a/b/c/run.sh')).mtimeMs - lstatSync(join(ctx, 'd/run.sh')).mtimeMs)).toBeLessThan(0.01);
  });

  it('applies --chmod to copied files and directories, not to created parents', async () => {
    const ctx = tree(tempDir(), { 'd/f': '', 'd/sub/g': '' });
    const layer = await copy(copyIns(['d'], '/x/y/', { chmod: '0750' }), ctx);
    expect(modeOf(join(layer, 'x/y'))).toBe(0o755);
    expect(modeOf(join(layer, 'x/y/f'))).toBe(0o750);
    expect(modeOf(join(layer, 'x/y/sub'))).toBe(0o750);
    const err = await copyError(copyIns(['d'], '/x/', { chmod: 'u+x' }), ctx);
    expect(err.code).toBe('E_BAD_CHMOD');
    expect(err.location?.line).toBe(7);
  });
});

describe('COPY and links', () => {
  it('copies links inside copied directories as links, even dangling or pointing out', async () => {
    const ctx = tree(tempDir(), { 'd/f': 'f', 'd/rel -> f': null, 'd/out -> ../../../etc/passwd': null, 'd/abs -> /etc/shadow': null });
    expect(listing(await copy(copyIns(['d'], '/x/'), ctx))).toEqual(['x/', 'x/abs -> /etc/shadow', 'x/f=f', 'x/out -> ../../../etc/passwd', 'x/rel -> f']);
  });

  it('follows a named source link inside the context, naming the copy after the link', async () => {
    const ctx = tree(tempDir(), { 'real.txt': 'r', 'alias -> real.txt': null });
    expect(listing(await copy(copyIns(['alias'], '/x/'), ctx))).toEqual(['x/', 'x/alias=r']);
  });

  it('rejects sources outside the context, with the location', async () => {
    const outside = tree(tempDir(), { 'secret/f': 's' });
    const ctx = tree(tempDir(), { [`linked -> ${join(outside, 'secret')}`]: null, 'up -> ../': null, 'ok/': null });
    for (const src of ['../x', 'ok/../../x', 'linked/f', 'linked', 'up/x']) {
      const err = await copyError(copyIns([src], '/x'), ctx);
      expect(err.code, src).toBe('E_SOURCE_OUTSIDE_CONTEXT');
      expect(err.location).toEqual({ file: 'Containerfile', line: 7 });
    }
  });

  it('keeps hard links between copied files', async () => {
    const ctx = tree(tempDir(), { 'd/a': 'same', 'd/other': 'o' });
    linkSync(join(ctx, 'd/a'), join(ctx, 'd/b'));
    mkdirSync(join(ctx, 'd/sub'));
    linkSync(join(ctx, 'd/a'), join(ctx, 'd/sub/c'));
    const layer = await copy(copyIns(['d'], '/x/'), ctx);
    const ino = lstatSync(join(layer, 'x/a')).ino;
    expect(lstatSync(join(layer, 'x/b')).ino).toBe(ino);
    expect(lstatSync(join(layer, 'x/sub/c')).ino).toBe(ino);
    expect(lstatSync(join(layer, 'x/other')).ino).not.toBe(ino);
  });
});

describe('COPY heredocs', () => {
  it('writes the body as a 0644 file, or with --chmod', async () => {
    const ctx = tempDir();
    const layer = await copy(copyIns([], '/etc/app.conf', { inline: [heredoc('EOF', 'a=1\n')] }), ctx);
    expect(readFileSync(join(layer, 'etc/app.conf'), 'utf8')).toBe('a=1\n');
    expect(modeOf(join(layer, 'etc/app.conf'))).toBe(0o644);
    const two = await copy(copyIns([], '/bin/', { inline: [heredoc('run.sh', '#!/bin/sh\n'), heredoc('b', 'b')], chmod: '755' }), ctx);
    expect(listing(two)).toEqual(['bin/', 'bin/b=b', 'bin/run.sh=#!/bin/sh\n']);
    expect(modeOf(join(two, 'bin/run.sh'))).toBe(0o755);
  });
});

describe('COPY --from layers', () => {
  it('reads another stage\'s merged files, resolving links inside its root', async () => {
    const l0 = tree(tempDir(), { 'app/bin/tool': 'v1', 'app/lib/x': 'x', 'current -> /app': null });
    const l1 = tree(tempDir(), { 'app/bin/tool': 'v2' });
    const layer = tempDir('tsb-layer-');
    await applyCopy({ ...contextStep(copyIns(['/current/bin', 'app/lib/../lib/x'], '/opt/', { from: 'build' }), tempDir()), source: { kind: 'layers', layerDirs: [l0, l1] } }, layer);
    expect(listing(layer)).toEqual(['opt/', 'opt/tool=v2', 'opt/x=x']);
  });

  it('follows links that leave the root back inside it', async () => {
    const l0 = tree(tempDir(), { 'etc/passwd': 'image', 'escape -> ../../../../../etc/passwd': null });
    const layer = tempDir('tsb-layer-');
    await applyCopy({ ...contextStep(copyIns(['escape'], '/p'), tempDir()), source: { kind: 'layers', layerDirs: [l0] } }, layer);
    expect(listing(layer)).toEqual(['p=image']);
  });
});

describe('layer safety', () => {
  it('never writes through a link an earlier source of the step created', async () => {
    const victim = tree(tempDir(), { 'target': 'untouched' });
    const ctx = tree(tempDir(), { [`a/f -> ${join(victim, 'target')}`]: null, 'b/f': 'overwrite' });
    const layer = await copy(copyIns(['a', 'b'], '/x/'), ctx);
    expect(readFileSync(join(victim, 'target'), 'utf8')).toBe('untouched');
    expect(listing(layer)).toEqual(['x/', 'x/f=overwrite']);
    symlinkSync('/', join(ctx, 'a/dir'));
    mkdirSync(join(ctx, 'b/dir'));
    const second = await copy(copyIns(['a', 'b'], '/y/'), tree(ctx, { 'b/dir/g': 'g' }));
    expect(listing(second)).toContain('y/dir/g=g');
    expect(lstatSync(join(second, 'y/dir')).isDirectory()).toBe(true);
  });
});
