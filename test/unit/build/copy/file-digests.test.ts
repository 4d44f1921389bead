import { lstatSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileDigests, sha256File } from '../../../../src/build/copy/file-digests.js';

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
    const path = join(dir, 'memo.json');
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
});
