// RUN --mount=type=cache,from=STAGE,source=DIR against the oracle we
// follow, dockerd's BuildKit: the same sequence of builds must show the
// same cache contents. BuildKit seeds such a cache once per (id, source
// content), keeps what steps wrote, seeds afresh when the source stage
// changes (or is rebuilt with --no-cache), and keeps it apart from the
// plain cache of the same id. (buildah mounts the stage itself and keeps
// nothing, so it is not the reference here.)
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildKit } from '../../../bench/lib/buildkit.mjs';
import { removeDir } from '../../../bench/lib/workspace.mjs';
import { busyboxLayout, tempRoot, tsbuild } from '../fixtures.js';

let root: string;
let cleanup: () => void;
let ctx: string;
let ws: DaemonDir;
let buildkit: BuildKit;

// The daemon's own dir, under a prefix of this test's: not the benchmarks'
// Workspace, whose start-up removes every bench dir whose owner does not look
// like a benchmark (this test's vitest worker would, and it would remove
// other people's). Only dirs with this prefix whose owner is gone are ours
// to clean up (a run killed with -9).
const PREFIX = 'tsbuild-test-buildkit-';

class DaemonDir {
  readonly dir: string;
  private readonly teardowns: Array<() => unknown> = [];

  constructor() {
    for (const name of readdirSync(tmpdir()).filter((n) => n.startsWith(PREFIX))) {
      const dir = join(tmpdir(), name);
      let owner = 0;
      try { owner = Number(readFileSync(join(dir, 'owner'), 'utf8')); } catch { /* half made */ }
      if (owner > 0 && isAlive(owner)) continue;
      removeDir(dir);
    }
    this.dir = mkdtempSync(join(tmpdir(), PREFIX));
    writeFileSync(join(this.dir, 'owner'), String(process.pid));
  }

  path(sub: string, opts: { mkdir?: boolean } = {}): string {
    const p = join(this.dir, sub);
    if (opts.mkdir) mkdirSync(p, { recursive: true });
    return p;
  }

  recordPid(pid: number, command: string): void {
    appendFileSync(join(this.dir, 'pids'), `${pid} ${command}\n`);
  }

  onClose(fn: () => unknown): void {
    this.teardowns.push(fn);
  }

  async close(): Promise<void> {
    for (const fn of this.teardowns.reverse()) await fn();
    removeDir(this.dir); // the daemon's containerd and shims, its mounts, the dir
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const CONTAINERFILE = [
  'FROM busybox:stable AS seed',
  'ARG SEED=v1',
  'RUN mkdir -p /seed/sub && echo $SEED > /seed/sub/a && chmod 0750 /seed && chown 7:8 /seed/sub/a',
  'FROM busybox:stable',
  'ARG RUNID',
  'RUN --mount=type=cache,id=seeded,target=/c,from=seed,source=/seed \\',
  '    echo "$RUNID" >> /c/log && for f in /c/sub/a /c/log; do sed "s|^|seen:$f=|" $f; done && stat -c "root:%a owner:%u:%g" /c /c/sub/a && ls -A /c | sed "s|^|ls:|"',
  'RUN --mount=type=cache,id=seeded,target=/plain ls -A /plain | sed "s|^|plain:|"; true',
  '',
].join('\n');

beforeAll(async () => {
  ({ root, cleanup } = tempRoot('cache-from-bk'));
  ctx = mkdtempSync(join(tmpdir(), 'tsbuild-cache-from-bk-'));
  writeFileSync(join(ctx, 'Dockerfile'), CONTAINERFILE);
  expect(tsbuild(root, ['load', '-i', busyboxLayout]).status).toBe(0);
  const archive = join(ctx, '..', `${ctx.split('/').at(-1)}-busybox.tar`);
  expect(tsbuild(root, ['save', '--format', 'docker-archive', '-o', archive, 'busybox:stable']).status).toBe(0);
  ws = new DaemonDir();
  buildkit = new BuildKit(ws, { insecureRegistry: '127.0.0.1:1' });
  try {
    if (!(await buildkit.start())) throw new Error(`BuildKit (dockerd) did not start: ${buildkit.reason}`);
    await buildkit.docker(['load', '-i', archive]);
  } finally {
    rmSync(archive, { force: true });
  }
});
afterAll(async () => {
  await ws?.close();
  cleanup();
  rmSync(ctx, { recursive: true, force: true });
});

/** The tagged lines a build's RUN steps printed, without BuildKit's `#6 0.123 ` prefixes. */
function tagged(stderr: string): string[] {
  return stderr.split('\n')
    .map((l) => l.replace(/^#\d+ \d+\.\d+ /, ''))
    .filter((l) => /^(seen|root|ls|plain):/.test(l));
}

async function both(...args: string[]): Promise<{ ours: string[]; theirs: string[] }> {
  const ours = tsbuild(root, ['build', '--progress', 'plain', ...args, ctx], { timeout: 120_000 });
  if (ours.status !== 0) throw new Error(`tsbuild build failed:\n${ours.stderr}`);
  const theirs = await buildkit.build({ file: join(ctx, 'Dockerfile'), context: ctx, extra: args });
  return { ours: tagged(ours.stderr), theirs: tagged(theirs.stderr) };
}

describe('cache mounts seeded from= a stage, against BuildKit', () => {
  it('shows what BuildKit shows over a sequence of builds', async () => {
    const steps: Array<[string[], string[]]> = [
      // A new cache: seeded from the stage's /seed, modes and owners kept.
      [['--build-arg', 'RUNID=one'], ['seen:/c/sub/a=v1', 'seen:/c/log=one', 'root:750 owner:0:0', 'root:644 owner:7:8', 'ls:log', 'ls:sub']],
      // The same source: the cache as the last step left it, not seeded again.
      [['--build-arg', 'RUNID=two'], ['seen:/c/sub/a=v1', 'seen:/c/log=one', 'seen:/c/log=two', 'root:750 owner:0:0', 'root:644 owner:7:8', 'ls:log', 'ls:sub']],
      // The source stage changed: a fresh cache seeded from the new content.
      [['--build-arg', 'RUNID=three', '--build-arg', 'SEED=v2'], ['seen:/c/sub/a=v2', 'seen:/c/log=three', 'root:750 owner:0:0', 'root:644 owner:7:8', 'ls:log', 'ls:sub']],
    ];
    for (const [args, expected] of steps) {
      const { ours, theirs } = await both(...args);
      expect(theirs).toEqual(expected);
      expect(ours).toEqual(theirs);
    }
  });
});
