import { lstatSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileDigests, sha256File } from '../../../src/build/copy/file-digests.js';

const dir = mkdtempSync(join(tmpdir(), 'tsb-fd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('FileDigests', () => {
  it('gives the content digest and notices an edit even when the mtime is put back', () => {
    const f = join(dir, 'a');
    writeFileSync(f, 'one');
    const memo = new FileDigests();
    const first = memo.digest(f, lstatSync(f));
    expect(first).toBe(sha256File(f));
    const before = lstatSync(f);
    writeFileSync(f, 'two');
    utimesSync(f, before.atime, before.mtime);
    const after = lstatSync(f);
    expect(after.mtimeMs).toBe(before.mtimeMs);
    expect(memo.digest(f, after)).not.toBe(first);
  });

  it('persists what a build used and answers from it without reading the file', () => {
    const f = join(dir, 'b');
    writeFileSync(f, 'persisted');
    const path = join(dir, 'memo.json');
    const st = lstatSync(f);
    const a = new FileDigests(path);
    const d = a.digest(f, st);
    a.save();
    // Same identity (dev, ino, size, mtime, ctime): the memo answers, even for a path it cannot read.
    expect(new FileDigests(path).digest(join(dir, 'no-such-file'), st)).toBe(d);
  });
});
