import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileDigests, memoPath, pruneDigestMemos, sha256File } from '../../../../src/build/copy/file-digests.js';

const dir = mkdtempSync(join(tmpdir(), 'tsb-fd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('FileDigests', () => {
  it('gives the content digest and notices an edit made within the same timestamp tick', () => {
    const f = join(dir, 'a');
    writeFileSync(f, 'one');
    const memo = new FileDigests();
    const first = memo.digest(f, lstatSync(f));
    expect(first).toBe(sha256File(f));
    const before = lstatSync(f);
    writeFileSync(f, 'two');
    utimesSync(f, before.atime, before.mtime);
    const after = lstatSync(f);
    expect(Math.abs(after.mtimeMs - before.mtimeMs)).toBeLessThan(1);
    expect(memo.digest(f, after)).not.toBe(first);
  });

  it('persists what a build used and answers from it without reading the file', () => {
    const f = join(dir, 'b');
    writeFileSync(f, 'persisted');
    const path = join(dir, 'memo');
    const st = lstatSync(f);
    // racyMs 0: trust timestamps at once (the default waits 2 s, longer than a test should).
    const a = new FileDigests(path, 0);
    const d = a.digest(f, st);
    a.save();
    // Same identity (dev, ino, size, mtime, ctime): the memo answers, even for a path it cannot read.
    expect(new FileDigests(path, 0).digest(join(dir, 'no-such-file'), st)).toBe(d);
    // A file changed just now is never answered from the memo.
    expect(() => new FileDigests(path).digest(join(dir, 'no-such-file'), st)).toThrow(/ENOENT/);
  });

  it('writes nothing on a rebuild that learnt nothing, and rewrites when an entry goes unused', () => {
    const f = join(dir, 'c');
    const g = join(dir, 'd');
    writeFileSync(f, 'c');
    writeFileSync(g, 'd');
    const path = join(dir, 'memo-noop');
    const first = new FileDigests(path, 0);
    first.digest(f, lstatSync(f));
    first.digest(g, lstatSync(g));
    first.save();
    const written = statSync(path).ino;
    // The same files again: every answer from the file, so it is left as it is (same inode, no rename).
    const again = new FileDigests(path, 0);
    expect(again.digest(f, lstatSync(f))).toBe(sha256File(f));
    again.digest(g, lstatSync(g));
    again.save();
    expect(statSync(path).ino).toBe(written);
    // Only one of them: the other is dropped, so the file is rewritten without it.
    const fewer = new FileDigests(path, 0);
    fewer.digest(f, lstatSync(f));
    fewer.save();
    expect(readFileSync(path, 'utf8').trim().split('\n').map((l) => l.split(' ')[1])).toEqual([sha256File(f)]);
  });

  it('reads no memo when nothing is asked, and keeps one memo per context directory', () => {
    const missing = join(dir, 'never', 'memo');
    const memo = new FileDigests(missing, 0);
    memo.save();
    expect(existsSync(missing)).toBe(false);
    const root = join(dir, 'root');
    expect(memoPath(root, '/ctx/a')).toBe(memoPath(root, '/ctx/a/'));
    expect(memoPath(root, '/ctx/a')).not.toBe(memoPath(root, '/ctx/b'));
    expect(memoPath(root, '/ctx/a').startsWith(join(root, 'cache', 'file-digests'))).toBe(true);
  });

  it('skips a torn line and keeps the whole ones', () => {
    const f = join(dir, 'e');
    writeFileSync(f, 'e');
    const path = join(dir, 'memo-torn');
    const a = new FileDigests(path, 0);
    const d = a.digest(f, lstatSync(f));
    a.save();
    writeFileSync(path, `${readFileSync(path, 'utf8')}1:2:3:4:5 abcdef`);
    const b = new FileDigests(path, 0);
    expect(b.digest(join(dir, 'no-such-file'), lstatSync(f))).toBe(d);
    expect(() => b.digest(join(dir, 'no-such-file'), { dev: 1, ino: 2, size: 3, mtimeMs: 4, ctimeMs: 5 })).toThrow(/ENOENT/);
  });

  it('names its context in a header that lookups skip, and prune removes only the memos of gone contexts', () => {
    const root = join(dir, 'prune-root');
    // A context whose path has a space where a memo entry has one (65 characters from the end).
    const live = join(dir, `live ${'x'.repeat(64)}`);
    const gone = join(dir, 'gone-ctx');
    for (const c of [live, gone]) {
      mkdirSync(c);
      writeFileSync(join(c, 'f'), c);
      const memo = new FileDigests(memoPath(root, c), 0, c);
      memo.digest(join(c, 'f'), lstatSync(join(c, 'f')));
      memo.save();
    }
    const livePath = memoPath(root, live);
    expect(readFileSync(livePath, 'utf8').split('\n')[0]).toBe(`# context ${JSON.stringify(live)}`);
    // The header is not an entry: a rebuild that used every entry leaves the file as it is.
    const ino = statSync(livePath).ino;
    const again = new FileDigests(livePath, 0, live);
    again.digest(join(live, 'f'), lstatSync(join(live, 'f')));
    again.save();
    expect(statSync(livePath).ino).toBe(ino);
    // A memo without a header (an older one), a dead save's temp file, a live save's temp file.
    const memoDir = join(root, 'cache', 'file-digests');
    writeFileSync(join(memoDir, `${'0'.repeat(32)}.memo`), '1:2:3:4:5 ' + 'a'.repeat(64) + '\n');
    writeFileSync(join(memoDir, `${'1'.repeat(32)}.memo.999999999.tmp`), 'torn');
    writeFileSync(join(memoDir, `${'2'.repeat(32)}.memo.${process.pid}.tmp`), 'writing');
    rmSync(gone, { recursive: true });
    expect(pruneDigestMemos(root)).toBeGreaterThan(0);
    expect(readdirSync(memoDir).sort()).toEqual([`${'2'.repeat(32)}.memo.${process.pid}.tmp`, livePath.split('/').pop()].sort());
    expect(pruneDigestMemos(join(dir, 'no-store'))).toBe(0);
  });
});
