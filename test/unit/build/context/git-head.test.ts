// The default SOURCE_DATE_EPOCH: HEAD's committer time read from .git by
// tsbuild's own reader, checked against real git repositories made by git
// itself (loose objects, a packed and delta-compressed history, packed-refs,
// a linked worktree, a detached HEAD, a subdirectory of the work tree).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { committerTime, findGitDir, gitHeadTime, readHeadTime, readObject } from '../../../../src/build/context/git-head.js';

let dir = '';
const T0 = 1_700_000_000;

function git(cwd: string, args: string[], time?: number): string {
  const date = `${time ?? T0} +0200`;
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@e', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@e', GIT_AUTHOR_DATE: `${T0 - 5000} +0000`, GIT_COMMITTER_DATE: date, GIT_CONFIG_NOSYSTEM: '1', HOME: dir },
  }).trim();
}

function commit(repo: string, n: number): void {
  // Similar, growing files and messages, so a repack makes deltas of commits and trees.
  writeFileSync(join(repo, 'f.txt'), `${'line of text\n'.repeat(200)}${n}\n`);
  git(repo, ['add', '.']);
  git(repo, ['commit', '-q', '-m', `change number ${n}\n\n${'a long and repeated body text '.repeat(20)}`], T0 + n * 60);
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsbuild-githead-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('gitHeadTime', () => {
  it('is undefined outside a work tree and for an unborn branch', () => {
    expect(gitHeadTime(dir)).toBeUndefined();
    git(dir, ['init', '-q', '-b', 'main']);
    expect(findGitDir(dir)?.workTree).toBe(dir);
    expect(gitHeadTime(dir)).toBeUndefined();
    expect(readHeadTime(dir)).toBeUndefined();
  });

  it('reads a loose commit through a loose ref, from the top or a subdirectory', () => {
    git(dir, ['init', '-q', '-b', 'main']);
    commit(dir, 1);
    mkdirSync(join(dir, 'app', 'sub'), { recursive: true });
    expect(readHeadTime(dir)).toBe(T0 + 60);
    expect(readHeadTime(join(dir, 'app', 'sub'))).toBe(T0 + 60);
    expect(gitHeadTime(join(dir, 'app'))).toBe(T0 + 60);
  });

  it('reads packed, delta-compressed commits through packed-refs, and a detached HEAD', () => {
    git(dir, ['init', '-q', '-b', 'main']);
    for (let n = 1; n <= 12; n++) commit(dir, n);
    git(dir, ['repack', '-q', '-a', '-d', '-f', '--window=50', '--depth=50']);
    git(dir, ['pack-refs', '--all']);
    git(dir, ['prune']);
    expect(readHeadTime(dir)).toBe(T0 + 12 * 60);
    // Every commit of the history, whatever its form in the pack, agrees with git.
    const objects = join(dir, '.git', 'objects');
    const shas = git(dir, ['rev-list', 'HEAD']).split('\n');
    const idx = readdirSync(join(objects, 'pack')).find((f) => f.endsWith('.idx')) as string;
    const deltas = git(dir, ['verify-pack', '-v', join(objects, 'pack', idx)]);
    expect(deltas).toMatch(/ commit .* [0-9a-f]{40}\n/); // at least one commit is stored as a delta
    for (const sha of shas) {
      const obj = readObject(objects, sha);
      expect(obj?.type).toBe(1);
      expect(committerTime(obj?.data as Buffer)).toBe(Number(git(dir, ['log', '-1', '--format=%ct', sha])));
    }
    git(dir, ['checkout', '-q', '--detach', shas[3] as string]);
    expect(readHeadTime(dir)).toBe(T0 + 9 * 60);
  });

  it('follows a linked worktree to its common dir', () => {
    const main = join(dir, 'main');
    mkdirSync(main);
    git(main, ['init', '-q', '-b', 'main']);
    commit(main, 1);
    git(main, ['branch', 'other']);
    commit(main, 2);
    git(main, ['worktree', 'add', '-q', join(dir, 'wt'), 'other']);
    expect(readHeadTime(join(dir, 'wt'))).toBe(T0 + 60);
    expect(readHeadTime(main)).toBe(T0 + 120);
  });
});
