// The BuildKit oracle leaves nothing behind (buildkit.ts, scripts/lib/dockerd.mjs):
// after stop(), and after a run that was killed, whose dockerd the next
// run's cleanupStaleBuildKits removes with any containerd or shim, its
// mounts, cgroup and dir. The killed run is played for real: the daemon is
// SIGKILLed mid-life (so its mounts and cgroup stay), and its dir says its
// owner is a process that has exited.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxLayout, tempRoot, tsbuild } from '../fixtures.js';
// @ts-expect-error: a plain .mjs module shared with the benchmarks
import { cgroupName, Dockerd } from '../../../scripts/lib/dockerd.mjs';
import { cleanupStaleBuildKits, startBuildKit } from './buildkit.js';

interface Leftovers { processes: string[]; mounts: string[]; cgroups: string[]; dir: boolean }

function leftovers(dir: string): Leftovers {
  const processes: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    } catch { /* exited */ }
    if (cmd.includes(`${dir}/`)) processes.push(`${pid} ${cmd}`);
  }
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(dir));
  const name = (cgroupName as (d: string) => string)(dir);
  const cgroups = ['', ...readdirSync('/sys/fs/cgroup')].map((c) => join('/sys/fs/cgroup', c, name)).filter((p) => existsSync(p));
  return { processes, mounts, cgroups, dir: existsSync(dir) };
}

const NOTHING: Leftovers = { processes: [], mounts: [], cgroups: [], dir: false };

let root: string;
let cleanupRoot: () => void;
let archive: string;

beforeAll(() => {
  ({ root, cleanup: cleanupRoot } = tempRoot('buildkit-cleanup'));
  archive = join(root, 'busybox.docker.tar');
  for (const args of [['load', '-i', busyboxLayout], ['save', '--format', 'docker-archive', '-o', archive, 'busybox:stable']]) {
    const r = tsbuild(root, args);
    if (r.status !== 0) throw new Error(`tsbuild ${args[0]}: ${r.stderr}`);
  }
});

afterAll(() => cleanupRoot?.());

type Docker = (args: string[], opts?: { allowFail?: boolean }) => Promise<{ code: number | null; stderr: string }>;

/** Loads busybox and builds a RUN step in `dir` (so a container, a shim and a cgroup have existed). */
async function buildWithRun(docker: Docker, dir: string): Promise<void> {
  await docker(['load', '-i', archive]);
  const ctx = mkdtempSync(join(dir, 'ctx-'));
  writeFileSync(join(ctx, 'Containerfile'), 'FROM busybox:stable\nRUN echo ran > /ran\n');
  const built = await docker(['build', '--network', 'none', '-t', 'cleanup', '-f', join(ctx, 'Containerfile'), ctx], { allowFail: true });
  expect(built.code, built.stderr).toBe(0);
}

describe('the BuildKit oracle cleans up', () => {
  it('removes everything when stopped after a build', async () => {
    const bk = await startBuildKit('cleanup');
    const dir = (await bk.docker(['info', '--format', '{{.DockerRootDir}}'])).stdout.trim().replace(/\/data$/, '');
    await buildWithRun((args) => bk.docker(args), dir);
    await bk.stop();
    expect(leftovers(dir)).toEqual(NOTHING);
  }, 300_000);

  it('removes a killed run\'s dockerd, containerd, mounts, cgroup and dir on the next run', async () => {
    const dir = mkdtempSync(join('/tmp', 'tsbuild-dockerd-killed-'));
    const d = new Dockerd(dir) as { start(): Promise<boolean>; reason: string; child: { pid: number }; docker: Docker };
    expect(await d.start(), d.reason).toBe(true);
    await buildWithRun((args, opts) => d.docker(args, opts), dir);
    const before = leftovers(dir);
    expect(before.processes.some((p) => p.includes('containerd'))).toBe(true);
    expect(before.mounts.length).toBeGreaterThan(0);
    // The RUN step's cgroup went under the daemon's own cgroup-parent.
    expect(before.cgroups.length).toBeGreaterThan(0);
    // The run dies: its daemon is SIGKILLed (containerd follows it: dockerd
    // starts it with a parent-death signal), its owner is a pid that has exited.
    const exited = new Promise((r) => (d.child as unknown as NodeJS.EventEmitter).once('exit', r));
    process.kill(d.child.pid, 'SIGKILL');
    await exited;
    const gone = spawnSync('true');
    writeFileSync(join(dir, 'owner'), String(gone.pid));
    // What a killed daemon leaves: its data-root mount, its cgroup, its dir.
    const left = leftovers(dir);
    expect(left.mounts.length).toBeGreaterThan(0);
    expect(left.cgroups.length).toBeGreaterThan(0);
    expect(left.dir).toBe(true);
    cleanupStaleBuildKits();
    expect(leftovers(dir)).toEqual(NOTHING);
  }, 300_000);
});
