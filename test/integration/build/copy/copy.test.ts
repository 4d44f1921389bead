// COPY/ADD as root: owners (--chown through the image's passwd/group,
// --from keeping the source's), special mode bits, ADD archives (including
// hostile ones) and URLs, and layer views over real whiteouts and opaque
// directories.
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { applyCopy, copySourceDigest, type CopyStep } from '../../../../src/build/copy/index.js';
import { LayerView } from '../../../../src/image/layer-view.js';
import { native } from '../../../../src/native/index.js';
import { busyboxRootfs } from '../../fixtures.js';
import { makeTar } from '../../oci-fixture.js';
import { addIns, cleanupTemp, contextStep, copyIns, listing, modeOf, tempDir, tree } from '../../../shared/copy-steps.js';

afterEach(cleanupTemp);

const owner = (p: string) => { const st = lstatSync(p); return `${st.uid}:${st.gid}`; };

async function run(step: CopyStep): Promise<string> {
  const layer = tempDir('tsb-layer-');
  await applyCopy(step, layer);
  return layer;
}

async function failure(step: CopyStep): Promise<{ code: string; message: string; location?: unknown }> {
  try {
    await run(step);
  } catch (err) {
    return err as { code: string; message: string };
  }
  throw new Error('expected failure');
}

describe('ownership', () => {
  it('resolves --chown names through the image\'s /etc/passwd and /etc/group, for copies and created parents', async () => {
    const ctx = tree(tempDir(), { 'f': 'x', 'd/g': 'y' });
    const layer = await run(contextStep(copyIns(['f', 'd'], '/new/deep/', { chown: 'alice:staff' }), ctx, [busyboxRootfs]));
    for (const p of ['new', 'new/deep', 'new/deep/f', 'new/deep/g']) expect(owner(join(layer, p)), p).toBe('1000:50');
    const nobody = await run(contextStep(copyIns(['f'], '/tmp/f', { chown: 'nobody' }), ctx, [busyboxRootfs]));
    expect(owner(join(nobody, 'tmp/f'))).toBe('65534:65534');
    // An existing parent keeps the image's owner and mode (/tmp is 1777 root).
    expect(owner(join(nobody, 'tmp'))).toBe('0:0');
    expect(modeOf(join(nobody, 'tmp'))).toBe(0o1777);
    const numeric = await run(contextStep(copyIns(['f'], '/f', { chown: '4242' }), ctx, [busyboxRootfs]));
    expect(owner(join(numeric, 'f'))).toBe('4242:4242');
    const mixed = await run(contextStep(copyIns(['f'], '/f', { chown: '7:nogroup' }), ctx, [busyboxRootfs]));
    expect(owner(join(mixed, 'f'))).toBe('7:65534');
  });

  it('fails for unknown users and groups with the instruction\'s location', async () => {
    const ctx = tree(tempDir(), { f: '' });
    const err = await failure(contextStep(copyIns(['f'], '/f', { chown: 'mallory' }), ctx, [busyboxRootfs]));
    expect(err).toMatchObject({ code: 'E_USER_NOT_FOUND', location: { file: 'Containerfile', line: 7 } });
    expect(err.message).toMatch(/unable to find user mallory/);
    const g = await failure(contextStep(copyIns(['f'], '/f', { chown: 'alice:wheel' }), ctx, [busyboxRootfs]));
    expect(g.code).toBe('E_GROUP_NOT_FOUND');
  });

  it('makes context files root\'s and keeps owners of --from files', async () => {
    const ctx = tree(tempDir(), { 'd/f': '' });
    chownSync(join(ctx, 'd/f'), 123, 456);
    expect(owner(join(await run(contextStep(copyIns(['d'], '/x/'), ctx)), 'x/f'))).toBe('0:0');
    const stage = tree(tempDir(), { 'home/alice/app/bin': 'b' });
    chownSync(join(stage, 'home/alice/app'), 1000, 1000);
    chownSync(join(stage, 'home/alice/app/bin'), 1000, 50);
    const layer = await run({ ...contextStep(copyIns(['/home/alice/app'], '/app', { from: 'build' }), ctx), source: { kind: 'layers', layerDirs: [stage] } });
    expect(owner(join(layer, 'app/bin'))).toBe('1000:50');
    expect(owner(join(layer, 'app'))).toBe('0:0'); // the destination is created, not copied (buildah)
  });

  it('preserves setuid, setgid and sticky bits and mtimes', async () => {
    const ctx = tree(tempDir(), { 'd/suid': '', 'd/sgid': '', 'd/tmp/': null });
    chmodSync(join(ctx, 'd/suid'), 0o4755);
    chmodSync(join(ctx, 'd/sgid'), 0o2711);
    chmodSync(join(ctx, 'd/tmp'), 0o1777);
    const layer = await run(contextStep(copyIns(['d'], '/x/', { chown: 'alice' }), ctx, [busyboxRootfs]));
    expect(modeOf(join(layer, 'x/suid'))).toBe(0o4755); // buildah 1.28 drops it (chown after chmod); docker keeps it
    expect(modeOf(join(layer, 'x/sgid'))).toBe(0o2711);
    expect(modeOf(join(layer, 'x/tmp'))).toBe(0o1777);
    expect(owner(join(layer, 'x/suid'))).toBe('1000:1000');
    expect(statSync(join(layer, 'x/suid')).mtimeMs).toBeCloseTo(statSync(join(ctx, 'd/suid')).mtimeMs, 0);
  });
});

describe('ADD archives', () => {
  it('unpacks a local .tar.gz into the destination, keeping the archive\'s owners', async () => {
    const tarball = gzipSync(await makeTar([
      { name: 'top/', type: 'directory', mode: 0o750, uid: 1000, gid: 50 },
      { name: 'top/inner/t', data: 'T', mode: 0o640, uid: 1000, gid: 50 },
      { name: 'top/link', type: 'symlink', linkname: 'inner/t' },
    ]));
    const ctx = tree(tempDir(), {});
    writeFileSync(join(ctx, 'a.tar.gz'), tarball);
    const layer = await run(contextStep(addIns(['a.tar.gz'], '/opt/'), ctx, [busyboxRootfs]));
    expect(listing(layer)).toEqual(['opt/', 'opt/top/', 'opt/top/inner/', 'opt/top/inner/t=T', 'opt/top/link -> inner/t']);
    expect(owner(join(layer, 'opt/top/inner/t'))).toBe('1000:50');
    expect(modeOf(join(layer, 'opt/top'))).toBe(0o750);
    // Without a trailing slash the destination is still a directory, and COPY never unpacks.
    expect(listing(await run(contextStep(addIns(['a.tar.gz'], '/x.tgz'), ctx)))).toContain('x.tgz/top/inner/t=T');
    expect(listing(await run(contextStep(copyIns(['a.tar.gz'], '/c/'), ctx)))).toEqual(['c/', `c/a.tar.gz=${tarball.toString()}`]);
    // A gzipped file that is not a tar is copied as is.
    writeFileSync(join(ctx, 'notes.gz'), gzipSync('just text'));
    expect(listing(await run(contextStep(addIns(['notes.gz'], '/n/'), ctx))).map((l) => l.split('=')[0])).toEqual(['n/', 'n/notes.gz']);
  });

  it('gives a destination it creates 0:0 (or --chown), not the owner of the archive\'s ./ entry, as docker does', async () => {
    const ctx = tree(tempDir(), {});
    writeFileSync(join(ctx, 'dot.tar'), await makeTar([
      { name: './', type: 'directory', mode: 0o700, uid: 1234, gid: 4321 },
      { name: './f', data: 'f', uid: 1234, gid: 4321 },
    ]));
    const layer = await run(contextStep(addIns(['dot.tar'], '/opt/merged/'), ctx, [busyboxRootfs]));
    expect(owner(join(layer, 'opt/merged'))).toBe('0:0');
    expect(modeOf(join(layer, 'opt/merged'))).toBe(0o755);
    expect(owner(join(layer, 'opt/merged/f'))).toBe('1234:4321');
    const chowned = await run(contextStep(addIns(['dot.tar'], '/c/', { chown: '1000:50' }), ctx, [busyboxRootfs]));
    expect(owner(join(chowned, 'c'))).toBe('1000:50');
    expect(owner(join(chowned, 'c/f'))).toBe('1234:4321');
    // An existing directory keeps the image's metadata (/tmp: 1777 root).
    const existing = await run(contextStep(addIns(['dot.tar'], '/tmp/'), ctx, [busyboxRootfs]));
    expect(modeOf(join(existing, 'tmp'))).toBe(0o1777);
    expect(owner(join(existing, 'tmp'))).toBe('0:0');
  });

  it('unpacks bzip2, xz and zstd archives too, and copies compressed non-archives as they are', async () => {
    const ctx = tree(tempDir(), { 'src/top/f': 'content', 'notes.txt': 'text' });
    execFileSync('tar', ['-C', join(ctx, 'src'), '-cf', join(ctx, 'a.tar'), 'top']);
    for (const [tool, ext] of [['xz', 'xz'], ['bzip2', 'bz2'], ['zstd', 'zst']] as const) {
      execFileSync(tool, ['-k', '-q', join(ctx, 'a.tar')]);
      const layer = await run(contextStep(addIns([`a.tar.${ext}`], '/x/'), ctx));
      expect(listing(layer), ext).toEqual(['x/', 'x/top/', 'x/top/f=content']);
      execFileSync(tool, ['-k', '-q', join(ctx, 'notes.txt')]);
      const plain = await run(contextStep(addIns([`notes.txt.${ext}`], '/n/'), ctx));
      expect(listing(plain).map((l) => l.split('=')[0]), ext).toEqual(['n/', `n/notes.txt.${ext}`]);
    }
    // --unpack=false copies an archive as a file.
    expect(listing(await run(contextStep(addIns(['a.tar.xz'], '/k/', { unpack: false }), ctx))).map((l) => l.split('=')[0])).toEqual(['k/', 'k/a.tar.xz']);
  });

  it('keeps a hostile archive inside the destination', async () => {
    const outside = tree(tempDir(), { 'victim': 'safe' });
    const passwd = readFileSync('/etc/passwd', 'utf8');
    const add = async (entries: Parameters<typeof makeTar>[0]) => {
      const ctx = tree(tempDir(), {});
      writeFileSync(join(ctx, 'evil.tar'), await makeTar(entries));
      return contextStep(addIns(['evil.tar'], '/dst/'), ctx);
    };
    // `..` and absolute names are clamped below the destination.
    const clamped = await run(await add([{ name: '../../../../escape-dotdot', data: 'x' }, { name: '/abs-escape', data: 'x' }]));
    expect(listing(clamped)).toEqual(['dst/', 'dst/abs-escape=x', 'dst/escape-dotdot=x']);
    // Entries below a link that points out, or a hard link to a host file, are refused.
    const below = await failure(await add([{ name: 'evil', type: 'symlink', linkname: outside }, { name: 'evil/victim', data: 'pwned' }]));
    expect(below).toMatchObject({ location: { file: 'Containerfile', line: 9 } });
    // A link climbing out resolves to the destination itself (RESOLVE_IN_ROOT), so what goes through it stays inside.
    const up = await run(await add([{ name: 'up', type: 'symlink', linkname: '../../../..' }, { name: 'up/new', data: 'inside' }]));
    expect(listing(up)).toEqual(['dst/', 'dst/new=inside', 'dst/up -> ../../../..']);
    const hard = await failure(await add([{ name: 'hard', type: 'link', linkname: '/etc/passwd' }]));
    expect(hard.message).toMatch(/hard/);
    expect(readFileSync(join(outside, 'victim'), 'utf8')).toBe('safe');
    expect(existsSync(join(outside, 'new'))).toBe(false);
    expect(existsSync('/escape-dotdot') || existsSync('/abs-escape')).toBe(false);
    expect(readFileSync('/etc/passwd', 'utf8')).toBe(passwd);
  });

  it('does not write a later source through a link an archive left', async () => {
    const outside = tree(tempDir(), { 'victim': 'safe' });
    const ctx = tree(tempDir(), { 'file': 'copied' });
    writeFileSync(join(ctx, 'a.tar'), await makeTar([{ name: 'file', type: 'symlink', linkname: join(outside, 'victim') }]));
    const layer = await run(contextStep(addIns(['a.tar', 'file'], '/d/'), ctx));
    expect(readFileSync(join(outside, 'victim'), 'utf8')).toBe('safe');
    expect(readFileSync(join(layer, 'd/file'), 'utf8')).toBe('copied');
  });
});

describe('ADD URLs', () => {
  let server: Server;
  let base = '';
  let body: string | Buffer = 'downloaded content\n';
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url?.startsWith('/files/')) {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'last-modified': 'Wed, 21 Oct 2015 07:28:00 GMT' });
        res.end(body);
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('downloads into the directory under the URL\'s name, 0600, with Last-Modified as mtime', async () => {
    const layer = await run(contextStep(addIns([`${base}/files/tool.sh?x=1`], '/usr/bin/'), tempDir(), [busyboxRootfs]));
    const p = join(layer, 'usr/bin/tool.sh');
    expect(readFileSync(p, 'utf8')).toBe(body);
    expect(modeOf(p)).toBe(0o600);
    expect(owner(p)).toBe('0:0');
    expect(statSync(p).mtime.toISOString()).toBe('2015-10-21T07:28:00.000Z');
    const named = await run(contextStep(addIns([`${base}/files/x`], '/opt/renamed', { chmod: '755' }), tempDir()));
    expect(modeOf(join(named, 'opt/renamed'))).toBe(0o755);
  });

  it('unpacks a downloaded archive only with --unpack=true', async () => {
    const saved = body;
    body = gzipSync(await makeTar([{ name: 'pkg/bin/tool', data: 'T' }]));
    try {
      const unpacked = await run(contextStep(addIns([`${base}/files/pkg.tgz`], '/opt', { unpack: true }), tempDir()));
      expect(listing(unpacked)).toEqual(['opt/', 'opt/pkg/', 'opt/pkg/bin/', 'opt/pkg/bin/tool=T']);
      const packed = await run(contextStep(addIns([`${base}/files/pkg.tgz`], '/opt/'), tempDir()));
      expect(listing(packed).map((l) => l.split('=')[0])).toEqual(['opt/', 'opt/pkg.tgz']);
    } finally {
      body = saved;
    }
  });

  it('verifies --checksum and names the expected digest on a mismatch', async () => {
    const { createHash } = await import('node:crypto');
    const good = `sha256:${createHash('sha256').update(body).digest('hex')}`;
    const layer = await run(contextStep(addIns([`${base}/files/f`], '/f', { checksum: good }), tempDir()));
    expect(readFileSync(join(layer, 'f'), 'utf8')).toBe(body);
    const bad = `sha256:${'0'.repeat(64)}`;
    const err = await failure(contextStep(addIns([`${base}/files/f`], '/f', { checksum: bad }), tempDir()));
    expect(err.code).toBe('E_DIGEST_MISMATCH');
    expect(err.message).toContain(bad);
    expect(err.location).toEqual({ file: 'Containerfile', line: 9 });
    expect((await failure(contextStep(addIns([`${base}/missing`], '/f'), tempDir()))).code).toBe('E_URL_FETCH');
    expect((await failure(contextStep(addIns(['local'], '/f', { checksum: good }), tree(tempDir(), { local: '' })))).code).toBe('E_BAD_FLAG');
  });

  it('puts the downloaded bytes in the cache digest', async () => {
    const step = () => contextStep(addIns([`${base}/files/f`], '/f'), tempDir());
    const first = await copySourceDigest(step());
    expect(await copySourceDigest(step())).toBe(first);
    body = 'new release\n';
    expect(await copySourceDigest(step())).not.toBe(first);
  });
});

describe('layer views over real whiteouts and opaque directories', () => {
  function layers(): string[] {
    const l0 = tree(tempDir(), { 'etc/keep': 'k', 'etc/gone': 'g', 'var/old/a': 'a', 'var/old/b': 'b' });
    const l1 = tree(tempDir(), { 'var/old/c': 'c' });
    const root = new (native().RootedDir)(l1, true);
    root.whiteout('etc/gone');
    root.setMetadata('var/old', { uid: 0, gid: 0, mode: 0o755, mtimeSec: 0, mtimeNsec: 0, xattrs: [{ name: 'trusted.overlay.opaque', value: Buffer.from('y') }] });
    return [l0, l1];
  }

  it('hides whiteouts and everything below an opaque directory', () => {
    const v = new LayerView(layers());
    expect(v.readdir('/etc')).toEqual(['keep']);
    expect(v.lstat('/etc/gone')).toBeUndefined();
    expect(v.readdir('/var/old')).toEqual(['c']);
    expect(v.lstat('/var/old/a')).toBeUndefined();
  });

  it('copies from such a stack with --from as the merged view shows it', async () => {
    const layer = await run({ ...contextStep(copyIns(['/'], '/m/', { from: 's' }), tempDir()), source: { kind: 'layers', layerDirs: layers() } });
    expect(listing(layer)).toEqual(['m/', 'm/etc/', 'm/etc/keep=k', 'm/var/', 'm/var/old/', 'm/var/old/c=c']);
  });

  it('copies into a directory whose link lives in a lower layer', async () => {
    const l0 = tree(tempDir(), { 'opt/tools/': null, 'usr/local/bin -> ../../opt/tools': null });
    const l1 = tree(tempDir(), { 'opt/tools/existing': 'e' });
    mkdirSync(join(l1, 'usr'));
    const layer = await run(contextStep(copyIns(['t'], '/usr/local/bin/'), tree(tempDir(), { t: 'tool' }), [l0, l1]));
    expect(listing(layer)).toEqual(['opt/', 'opt/tools/', 'opt/tools/t=tool']);
  });
});
