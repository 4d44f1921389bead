// Issue 11: /proc inside containers and build steps shows the container's
// cgroup (cpuset, cpu quota, memory limit and usage, its own tasks), live,
// and leaves nothing mounted on the host.
import { existsSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxLayout, busyboxRootfs, finished, hostMountsMentioning, storeCgroups, tempRoot, tsbuild, tsbuildAsync } from '../fixtures.js';

const IMG = `dir:${busyboxRootfs}`;
let root: string;
let cleanup: () => void;

beforeAll(() => ({ root, cleanup } = tempRoot('procview')));
afterAll(() => cleanup());

function run(args: string[], script: string): string {
  const r = tsbuild(root, ['run', '--rm', ...args, IMG, 'sh', '-c', script]);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout;
}

function kb(text: string, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(text);
  if (!m) throw new Error(`no ${key} in:\n${text}`);
  return Number(m[1]);
}

/** 20 MiB written to the container's /dev/shm (a tmpfs: charged to its memory cgroup, not reclaimable). */
const FILL_SHM = 'dd if=/dev/zero of=/dev/shm/fill bs=1M count=20 2>/dev/null';
const MEM_BEFORE_AFTER = `cat /proc/meminfo; echo ----; ${FILL_SHM}; cat /proc/meminfo`;

describe('a container-aware /proc', () => {
  it('counts one cpu under --cpuset-cpus 0 in cpuinfo, stat and nproc', () => {
    const out = run(['--cpuset-cpus', '0'], 'grep -c ^processor /proc/cpuinfo; grep -c "^cpu[0-9]" /proc/stat; nproc');
    expect(out).toBe('1\n1\n1\n');
  });

  it('sizes cpuinfo by --cpus, rounded up, where tools count processors', () => {
    expect(run(['--cpus', '0.5'], 'grep -c ^processor /proc/cpuinfo')).toBe('1\n');
  });

  it('shows the limit as MemTotal and MemAvailable falls as the container fills a tmpfs', () => {
    // The live view is a FUSE filesystem; without /dev/fuse tsbuild falls back to files written once.
    expect(existsSync('/dev/fuse')).toBe(true);
    const [before, after] = run(['--memory', '64m'], MEM_BEFORE_AFTER).split('----\n') as [string, string];
    expect(kb(before, 'MemTotal')).toBe(65536);
    expect(kb(after, 'MemTotal')).toBe(65536);
    expect(kb(before, 'MemAvailable') - kb(after, 'MemAvailable')).toBeGreaterThanOrEqual(19 * 1024);
    expect(kb(before, 'MemFree') - kb(after, 'MemFree')).toBeGreaterThanOrEqual(19 * 1024);
    expect(kb(after, 'Shmem')).toBeGreaterThanOrEqual(20 * 1024);
  });

  it('serves a user-namespaced container, read-only', () => {
    const out = run(['--uidmap', '0:100000:65536', '--memory', '64m', '--cpuset-cpus', '0'], 'grep MemTotal /proc/meminfo; grep -c ^processor /proc/cpuinfo; echo x 2>/dev/null > /proc/meminfo || echo refused');
    expect(out).toMatch(/^MemTotal:\s+65536 kB\n1\nrefused\n$/);
  });

  it("counts the container's own tasks in /proc/loadavg", () => {
    // sh, two sleeps and cat: four tasks (cat, blocked in the read, may not count as running).
    const out = run([], 'sleep 30 & sleep 30 & cat /proc/loadavg; kill %1 %2');
    expect(out).toMatch(/^\d+\.\d\d \d+\.\d\d \d+\.\d\d [0-4]\/4 0\n$/);
  });

  it('leaves /proc/uptime to the kernel: the container\'s own once it has a time namespace', () => {
    const out = run([], 'readlink /proc/self/ns/time; grep -c " /proc/uptime " /proc/mounts; cat /proc/uptime');
    const [ns, bound, uptime] = out.trim().split('\n') as [string, string, string];
    expect(bound).toBe('0');
    const seconds = Number(uptime.split(' ')[0]);
    // The hardening branch gives every container a time namespace (CLONE_NEWTIME); before it lands the kernel shows the host's.
    if (ns !== readlinkSync('/proc/self/ns/time')) expect(seconds).toBeLessThan(5);
    else expect(seconds).toBeGreaterThan(0);
  });

  it('shows the same view inside a build step under --memory and --cpus', () => {
    expect(tsbuild(root, ['load', '-i', busyboxLayout]).status).toBe(0);
    const ctx = join(root, 'ctx');
    mkdirSync(ctx, { recursive: true });
    writeFileSync(join(ctx, 'Containerfile'), `FROM docker.io/library/busybox:stable\nRUN grep -c ^processor /proc/cpuinfo; ${MEM_BEFORE_AFTER.replaceAll('----', '====')}\n`);
    const r = tsbuild(root, ['build', '--no-cache', '--memory', '64m', '--cpus', '1', '-t', 'procview:1', ctx]);
    expect(r.status).toBe(0);
    // A step's output is the build's progress, on stderr.
    const [head, after] = r.stderr.split('====\n') as [string, string];
    expect(head).toMatch(/^1$/m);
    expect(kb(head, 'MemTotal')).toBe(65536);
    expect(kb(head, 'MemAvailable') - kb(after, 'MemAvailable')).toBeGreaterThanOrEqual(19 * 1024);
  });

  it('gives a detached container the cpuset view and the limit', () => {
    const started = tsbuild(root, ['run', '-d', '--cpuset-cpus', '0', '--memory', '64m', IMG, 'sleep', '30']);
    expect(started.status).toBe(0);
    const id = started.stdout.trim();
    try {
      const r = tsbuild(root, ['exec', id, 'sh', '-c', 'grep -c ^processor /proc/cpuinfo; grep MemTotal /proc/meminfo']);
      expect(r.stdout).toMatch(/^1\nMemTotal:\s+65536 kB\n$/);
    } finally {
      tsbuild(root, ['rm', '-f', id]);
    }
  });

  it('leaves nothing mounted when the CLI is killed with -9 while the container runs', async () => {
    const child = tsbuildAsync(root, ['run', '--rm', '--memory', '64m', IMG, 'sh', '-c', 'cat /proc/loadavg; exec sleep 60']);
    const done = finished(child);
    await new Promise<void>((resolve) => child.stdout?.once('data', () => resolve()));
    child.kill('SIGKILL');
    await done;
    expect(hostMountsMentioning(root)).toEqual([]);
    // The next command reaps the container, even one whose parent-death
    // signal has not landed yet (a loaded CI host): its dir and cgroup go with it.
    tsbuild(root, ['ps', '-a']);
    expect(hostMountsMentioning(root)).toEqual([]);
    expect(storeCgroups(root), 'the killed run left its cgroup').toEqual([]);
  });

  it('leaves no view mounted on the host', () => {
    run(['--memory', '64m'], 'cat /proc/meminfo >/dev/null');
    expect(hostMountsMentioning(root)).toEqual([]);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(root);
  });
});
