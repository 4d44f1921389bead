// bin/tsbuild.js's V8 code cache, through a copy of the real entry point and
// bundle: the first command writes the cache beside the bundle, later ones
// use it without writing, a build replaces one a lighter command wrote, a
// changed bundle or a foreign header is never used, and a dir the CLI
// cannot write costs nothing but the cache.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repoRoot = resolve(import.meta.dirname, '../../..');
// As deep as dist/bundle, so the paths the bundle computes (the native module) hold.
const dir = join(repoRoot, 'dist', `bundle-cache-test-${process.pid}`);
const bin = join(dir, 'bin.cjs');
const cache = join(dir, 'tsbuild.cjs.cache');

beforeAll(() => {
  const bundle = join(repoRoot, 'dist/bundle/tsbuild.cjs');
  if (!existsSync(bundle)) throw new Error('dist/bundle/tsbuild.cjs is missing: run `npm run build:ts` first');
  mkdirSync(dir, { recursive: true });
  copyFileSync(bundle, join(dir, 'tsbuild.cjs'));
  writeFileSync(bin, readFileSync(join(repoRoot, 'bin/tsbuild.js'), 'utf8').replace("'../dist/bundle/tsbuild.cjs'", "'tsbuild.cjs'"));
});

afterAll(() => {
  chmodSync(dir, 0o755);
  rmSync(dir, { recursive: true, force: true });
});

function tsbuild(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 30_000 });
  expect(r.stderr).toBe('');
  return r;
}

const header = (): string => readFileSync(cache, 'latin1').split('\n', 1)[0] as string;
const identity = (): string => { const st = statSync(cache); return `${st.ino} ${st.mtimeMs}`; };

describe('the code cache of bin/tsbuild.js', () => {
  it('is written by the first command, then used without being written again', () => {
    rmSync(cache, { force: true });
    expect(tsbuild(['--help']).stdout).toContain('Usage: tsbuild');
    expect(header()).toMatch(new RegExp(`^tsbuild-code-cache v1 ${process.versions.v8.replace(/\./g, '\\.')} ${process.arch} \\d+ \\d+ \\d+ other$`));
    const before = identity();
    expect(tsbuild(['--help']).stdout).toContain('Usage: tsbuild');
    expect(identity()).toBe(before);
  });

  it('is replaced once by a build when a lighter command wrote it', () => {
    expect(header()).toMatch(/ other$/);
    expect(tsbuild(['build', '--help']).stdout).toContain('Usage: tsbuild build');
    expect(header()).toMatch(/ build$/);
    const before = identity();
    tsbuild(['build', '--help']);
    tsbuild(['--help']);
    expect(identity()).toBe(before);
  });

  it('is not used for a changed bundle, nor with a header that is not its own', () => {
    const old = header();
    // The same bytes written again: a new mtime, so a new key.
    writeFileSync(join(dir, 'tsbuild.cjs'), readFileSync(join(dir, 'tsbuild.cjs')));
    tsbuild(['--help']);
    expect(header()).not.toBe(old);
    writeFileSync(cache, 'not a cache\ngarbage');
    expect(tsbuild(['--help']).stdout).toContain('Usage: tsbuild');
    expect(header()).toMatch(/^tsbuild-code-cache v1 /);
  });

  it('is left out where the bundle dir cannot be written, and the command still works', () => {
    rmSync(cache, { force: true });
    chmodSync(dir, 0o555);
    try {
      // Root writes anyway: as root, without CAP_DAC_OVERRIDE (still uid 0, so the checkout stays readable).
      const argv = [process.execPath, bin, '--help'];
      const [cmd, ...args] = process.getuid?.() === 0 ? ['setpriv', '--bounding-set=-dac_override,-dac_read_search', ...argv] : argv;
      const r = spawnSync(cmd as string, args, { encoding: 'utf8', timeout: 30_000 });
      expect(r.stderr).toBe('');
      expect(r.stdout).toContain('Usage: tsbuild');
      expect(readdirSync(dir).filter((f) => f.includes('.cache'))).toEqual([]);
    } finally {
      chmodSync(dir, 0o755);
    }
  });
});
