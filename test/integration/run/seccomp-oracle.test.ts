// Docker itself as the oracle for the seccomp profile: the same probes run in
// `docker run` (dockerd from Debian's docker.io, private to this test, with
// runc and docker's default profile) and in `tsbuild run`, on the same
// busybox image, and must give the same verdicts: filter mode, new
// namespaces refused without CAP_SYS_ADMIN, what the default capabilities
// still allow, and a user's profile and `unconfined` honoured.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: plain JS helpers shared with the benchmarks
import { BuildKit } from '../../../bench/lib/buildkit.mjs';
// @ts-expect-error: plain JS helpers shared with the benchmarks
import { Workspace } from '../../../bench/lib/workspace.mjs';
import { busyboxLayout, tempRoot, tsbuild } from '../fixtures.js';

interface Docker { docker(args: string[], opts?: { allowFail?: boolean }): Promise<{ code: number; stdout: string; stderr: string }>; start(): Promise<boolean>; reason: string }

const IMG = 'docker.io/library/busybox:stable';
let ws: { path(p: string, o?: { mkdir?: boolean }): string; close(): Promise<void> };
let docker: Docker;
let root: string;
let cleanup: () => void;
let work: string;

beforeAll(async () => {
  ({ root, cleanup } = tempRoot('seccomp-oracle'));
  work = mkdtempSync(join(tmpdir(), 'tsbuild-seccomp-oracle-'));
  expect(tsbuild(root, ['load', '-i', busyboxLayout]).status).toBe(0);
  const archive = join(work, 'busybox.tar');
  const saved = tsbuild(root, ['save', '--format', 'docker-archive', '-o', archive, IMG]);
  expect(saved.status, saved.stderr).toBe(0);
  ws = new Workspace('seccomp-oracle');
  docker = new BuildKit(ws, { insecureRegistry: '127.0.0.1:1' }) as Docker;
  // A missing oracle is a failure, not a skip.
  expect(await docker.start(), docker.reason).toBe(true);
  const loaded = await docker.docker(['load', '-i', archive]);
  expect(loaded.code, loaded.stderr).toBe(0);
}, 180_000);

afterAll(async () => {
  await ws?.close();
  cleanup?.();
  rmSync(work, { recursive: true, force: true });
}, 60_000);

/** Each probe prints one verdict line: what the kernel (through the filter) said. */
const PROBES = [
  'grep "^Seccomp:" /proc/self/status',
  'unshare -U true 2>/dev/null; echo "new user ns: $?"',
  'unshare -m true 2>/dev/null; echo "new mount ns: $?"',
  'unshare -n true 2>/dev/null; echo "new net ns: $?"',
  'hostname other 2>/dev/null; echo "sethostname: $?"',
  'swapon /dev/null 2>/dev/null; echo "swapon: $?"',
  'date -s 2001-02-03 2>&1 >/dev/null | grep -c "not permitted"',
  'chroot / true; echo "chroot: $?"',
  'mknod /tmp/null c 1 3 && echo "mknod: $?"',
  'mkdir /made 2>/dev/null; echo "mkdir: $?"',
  '(true) && echo "fork: $?"',
].join('; ');

async function both(opts: string[]): Promise<{ docker: string; tsbuild: string }> {
  const d = await docker.docker(['run', '--rm', '--network', 'none', ...opts, IMG, 'sh', '-c', PROBES], { allowFail: true });
  const t = tsbuild(root, ['run', '--rm', '--network', 'none', ...opts, IMG, 'sh', '-c', PROBES]);
  expect(d.code, d.stderr).toBe(0);
  expect(t.status, t.stderr).toBe(0);
  return { docker: d.stdout, tsbuild: t.stdout };
}

describe('seccomp against docker run', () => {
  it('the default profile gives the same verdicts as docker', async () => {
    const r = await both([]);
    expect(r.docker).toMatch(/^Seccomp:\s+2$/m);
    expect(r.docker).toContain('new user ns: 1');
    expect(r.tsbuild).toBe(r.docker);
  }, 60_000);

  it('a profile denying mkdir, and unconfined, give the same verdicts as docker', async () => {
    const profile = join(work, 'deny-mkdir.json');
    writeFileSync(profile, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] }));
    const denied = await both(['--security-opt', `seccomp=${profile}`]);
    expect(denied.docker).toContain('mkdir: 1');
    expect(denied.tsbuild).toBe(denied.docker);
    const open = await both(['--security-opt', 'seccomp=unconfined']);
    expect(open.docker).toMatch(/^Seccomp:\s+0$/m);
    expect(open.tsbuild).toBe(open.docker);
  }, 60_000);
});
