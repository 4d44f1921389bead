// The layer cache across SOURCE_DATE_EPOCH changes (executor/retime.ts):
// with a git work tree as context, each commit gives another epoch, yet a
// rebuild after a commit that does not touch what the early steps read
// runs none of them (a RUN appending to a cache mount counts the runs):
// their layers are retimed, and the image is the one a --no-cache build of
// the new commit makes in a fresh store. A RUN that sees the epoch ARG
// always runs. A RUN that makes no layer (run3) is retimed too. Real builds through the CLI, busybox as the base.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { busyboxLayout, tempRoot, tsbuild, tsbuildBin } from '../fixtures.js';
import { parseSteps } from './progress-steps.js';

const T1 = 1_650_000_000;
const COUNT = 'RUN --mount=type=cache,id=retime-runs,target=/cache';
const CONTAINERFILE = `FROM busybox:stable
${COUNT} echo run1 >> /cache/runs && mkdir -p /data/sub && echo a > /data/a && ln -s /data/a /link && ln /data/a /hard && rm /bin/true && rm -rf /home && mkdir /home && echo n > /home/new
COPY app /app/
WORKDIR /work/dir
${COUNT} echo run2 >> /cache/runs && cp -a /app /app-copy
COPY late.txt /late.txt
${COUNT} echo run3 >> /cache/runs
ARG SOURCE_DATE_EPOCH
RUN echo "$SOURCE_DATE_EPOCH" > /epoch
`;

const roots: { root: string; cleanup: () => void }[] = [];
afterAll(() => { for (const r of roots) r.cleanup(); });

function newRoot(): string {
  const r = tempRoot('retime');
  roots.push(r);
  const loaded = tsbuild(r.root, ['load', '-i', busyboxLayout]);
  expect(loaded.status, loaded.stderr).toBe(0);
  return r.root;
}

function env(root: string, commitTime?: number): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@e', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@e', GIT_CONFIG_NOSYSTEM: '1', HOME: root };
  delete e.SOURCE_DATE_EPOCH;
  if (commitTime !== undefined) Object.assign(e, { GIT_AUTHOR_DATE: `${commitTime} +0000`, GIT_COMMITTER_DATE: `${commitTime} +0000` });
  return e;
}

function build(root: string, args: string[]): { id: string; stderr: string } {
  const r = spawnSync(process.execPath, [tsbuildBin, '--root', root, 'build', ...args], { encoding: 'utf8', env: env(root), timeout: 300_000 });
  expect(r.status, `build ${args.join(' ')}:\n${r.stderr}`).toBe(0);
  return { id: r.stdout.trim(), stderr: r.stderr };
}

function digest(root: string, image: string): string {
  const r = tsbuild(root, ['inspect', image]);
  expect(r.status, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { digest: string }).digest;
}

/** The lines the counting RUNs appended to the cache mount so far, read by a build of its own. */
function runs(root: string, dir: string): string[] {
  writeFileSync(join(dir, 'Countfile'), `FROM busybox:stable\n${COUNT} sed 's/^/count=/' /cache/runs\n`);
  const { stderr } = build(root, ['--no-cache', '--progress', 'plain', '-f', join(dir, 'Countfile'), dir]);
  return stderr.split('\n').flatMap((l) => /^count=(\w+)$/.exec(l)?.slice(1) ?? []);
}

function status(stderr: string): string[] {
  return parseSteps(stderr).filter((s) => /^(RUN|COPY|WORKDIR)/.test(s.text)).map((s) => `${s.text.split(' ')[0]} ${s.status}${s.retimed ? ' retimed' : ''}`);
}

describe('SOURCE_DATE_EPOCH from git, across commits', () => {
  it('retimes the steps a commit did not touch instead of running them, and gives the --no-cache image', () => {
    const root = newRoot();
    const repo = join(root, 'repo');
    const svc = join(repo, 'svc');
    mkdirSync(join(svc, 'app'), { recursive: true });
    writeFileSync(join(svc, 'app', 'main.sh'), '#!/bin/sh\necho main\n', { mode: 0o755 });
    writeFileSync(join(svc, 'late.txt'), 'one\n');
    writeFileSync(join(svc, 'Containerfile'), CONTAINERFILE);
    writeFileSync(join(svc, '.containerignore'), 'Countfile\n');
    const git = (args: string[], time?: number) => execFileSync('git', args, { cwd: repo, env: env(root, time) });
    git(['init', '-q', '-b', 'main']);
    git(['add', '.']);
    git(['commit', '-q', '-m', 'one'], T1);
    const first = build(root, ['--progress', 'plain', '-t', 'app:1', svc]);
    expect(status(first.stderr)).toEqual(['RUN built', 'COPY built', 'WORKDIR built', 'RUN built', 'COPY built', 'RUN none', 'RUN built']);
    expect(runs(root, svc)).toEqual(['run1', 'run2', 'run3']);

    // A commit that changes only the later COPY's file: a new epoch.
    writeFileSync(join(svc, 'late.txt'), 'two\n');
    git(['commit', '-q', '-am', 'two'], T1 + 3600);
    const second = build(root, ['--progress', 'plain', '-t', 'app:2', svc]);
    expect(status(second.stderr)).toEqual(['RUN cached retimed', 'COPY cached retimed', 'WORKDIR cached retimed', 'RUN cached retimed', 'COPY built', 'RUN none', 'RUN built']);
    expect(runs(root, svc)).toEqual(['run1', 'run2', 'run3', 'run3']);
    const fresh = newRoot();
    const clean = build(fresh, ['--no-cache', '--progress', 'plain', '-t', 'app:2', svc]);
    expect(clean.id).toBe(second.id);
    expect(digest(fresh, 'app:2')).toBe(digest(root, 'app:2'));

    // A commit outside the context: every step but the one reading the epoch is retimed; json says so.
    writeFileSync(join(repo, 'NOTES'), 'x\n');
    git(['add', 'NOTES']);
    git(['commit', '-q', '-m', 'three'], T1 + 7200);
    const meta = join(root, 'meta.json');
    const third = build(root, ['--progress', 'json', '--metadata-file', meta, '-t', 'app:3', svc]);
    const events = third.stderr.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; retimed?: boolean });
    expect(events.filter((e) => e.type === 'cached' && e.retimed === true)).toHaveLength(6);
    const steps = (JSON.parse(readFileSync(meta, 'utf8')) as { 'tsbuild.steps': { instruction: string; cached: boolean; retimed?: boolean }[] })['tsbuild.steps'];
    expect(steps.filter((s) => s.retimed).map((s) => s.instruction.split(' ')[0])).toEqual(['RUN', 'COPY', 'WORKDIR', 'RUN', 'COPY', 'RUN']);
    expect(steps.at(-1)).toMatchObject({ instruction: 'RUN echo "$SOURCE_DATE_EPOCH" > /epoch', cached: false });
    expect(runs(root, svc)).toEqual(['run1', 'run2', 'run3', 'run3']);
    const r = tsbuild(root, ['run', '--rm', 'app:3', 'cat', '/epoch']);
    expect(r.stdout.trim()).toBe(String(T1 + 7200));
    // Building the second commit's epoch again is an exact hit of what the retime stored.
    const again = build(root, ['--progress', 'plain', '--source-date-epoch', String(T1 + 3600), '-t', 'app:2b', svc]);
    expect(again.id).toBe(second.id);
    expect(status(again.stderr)).toEqual(Array(7).fill(0).map((_, i) => `${['RUN', 'COPY', 'WORKDIR', 'RUN', 'COPY', 'RUN', 'RUN'][i]} cached`));
  });
});
