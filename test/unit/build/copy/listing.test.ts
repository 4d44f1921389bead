// The native directory listing behind the context check must read what a
// Node lstat reads (the digest memo's keys and the cache key depend on
// every field), in readdir's sorted order, and the walk that uses it must
// emit what the Stats walk emits.
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeListing, listDir } from '../../../../src/build/copy/listing.js';
import { TreeWalker } from '../../../../src/build/copy/walk.js';
import { ContextTree } from '../../../../src/build/copy/trees.js';
import { IgnoreMatcher, parseIgnoreFile } from '../../../../src/build/context/index.js';
import { cleanupTemp, contextStep, copyIns, tempDir } from '../../../shared/copy-steps.js';

afterEach(cleanupTemp);

const FIELDS = ['dev', 'ino', 'mode', 'nlink', 'uid', 'gid', 'rdev', 'size', 'mtimeMs', 'ctimeMs'] as const;

function fixture(): string {
  const dir = tempDir();
  mkdirSync(join(dir, 'sub/deep'), { recursive: true });
  writeFileSync(join(dir, 'b.txt'), 'bee');
  writeFileSync(join(dir, 'B.txt'), 'upper');
  writeFileSync(join(dir, 'é.txt'), 'accent');
  writeFileSync(join(dir, '😀.txt'), 'astral'); // sorts differently by UTF-16 than by UTF-8 bytes
  writeFileSync(join(dir, '\uff5e.txt'), 'bmp-high');
  writeFileSync(join(dir, 'sub/deep/x'), 'x'.repeat(5000));
  writeFileSync(join(dir, 'sub/node_modules'), 'n');
  symlinkSync('sub', join(dir, 'link'));
  symlinkSync('/etc/passwd', join(dir, 'abs'));
  execFileSync('mkfifo', [join(dir, 'fifo')]); // Node has no mkfifo
  return dir;
}

describe('listDir', () => {
  it('gives every entry with the fields a Node lstat gives, sorted as readdir().sort()', () => {
    const dir = fixture();
    const listed = listDir(dir);
    expect(listed).toBeDefined();
    expect(listed?.map(([n]) => n)).toEqual(readdirSync(dir).sort());
    for (const [name, st] of listed ?? []) {
      const node = lstatSync(join(dir, name));
      for (const f of FIELDS) expect([name, f, st[f]]).toEqual([name, f, node[f]]);
      for (const m of ['isDirectory', 'isFile', 'isSymbolicLink', 'isFIFO', 'isCharacterDevice', 'isBlockDevice'] as const) {
        expect([name, m, st[m]()]).toEqual([name, m, node[m]()]);
      }
    }
  });

  it('reads character devices as lstat does, and leaves an unreadable dir to the ordinary path', () => {
    const dev = listDir('/dev')?.find(([n]) => n === 'null');
    expect(dev?.[1].isCharacterDevice()).toBe(true);
    expect(dev?.[1].rdev).toBe(lstatSync('/dev/null').rdev);
    expect(listDir(join(tempDir(), 'missing'))).toBeUndefined();
  });

  it('decodes an empty directory and refuses records that do not match the names', () => {
    expect(decodeListing('', Buffer.alloc(0))).toEqual([]);
    expect(() => decodeListing('a\0', Buffer.alloc(8))).toThrow(/1 names but 8 record bytes/);
  });
});

describe('TreeWalker.walkListed', () => {
  it('emits what the Stats walk emits, ignore rules and --exclude included', () => {
    const dir = fixture();
    writeFileSync(join(dir, '.dockerignore'), 'sub/deep\n!sub/deep/x\nb.txt\n');
    const ignore = new IgnoreMatcher(parseIgnoreFile(readFileSync(join(dir, '.dockerignore'), 'utf8')), '.dockerignore');
    const step = contextStep(copyIns(['.'], '/app/'), dir);
    const tree = new ContextTree(dir, step, ignore);
    const walker = new TreeWalker(tree, new IgnoreMatcher(['**/node_modules'], '--exclude', 'pattern'));
    const plain = [...walker.walk('/', '')].map((e) => [e.rel, e.path, e.kind, e.stat.ino, e.stat.mtimeMs]);
    const listed = [...walker.walkListed('/', '')].map((e) => [e.rel, e.path, e.kind, e.stat.ino, e.stat.mtimeMs]);
    expect(listed).toEqual(plain);
    expect(plain.map((e) => e[0])).toContain('sub/deep/x');
    expect(plain.map((e) => e[0])).not.toContain('b.txt');
    expect(plain.map((e) => e[0])).not.toContain('sub/node_modules');
  });
});
