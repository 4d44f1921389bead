// Rootless resource limits on a real cgroup v2 kernel (issue 14): this host
// is cgroup v1, so a user-mode-linux guest (guest.ts) delegates a subtree to
// a real unprivileged user the way systemd's Delegate=yes does (kernel
// cgroup-v2.rst, "Delegation": the dir, cgroup.procs, cgroup.subtree_control
// and cgroup.threads chowned to the user, controllers enabled in the
// parent, the user's process in a leaf "init" child), and the rootless CLI
// (re-executed in a user namespace by newuidmap/newgidmap) must make
// --memory, --pids-limit and --cpus work below it. A second, undelegated
// leaf shows the one-line refusal. The user is made on the host (the guest's
// root is the host's /, read-only) and removed afterwards.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxLayout, tsbuildBin } from '../fixtures.js';
import { createTestUser, type TestUser } from '../rootless/user.js';
import { LINUX_UML, runInGuest, type GuestResult } from './guest.js';

const IMG = 'docker.io/library/busybox:stable';
const D = '/sys/fs/cgroup/rl';

let user: TestUser;
let guest: GuestResult;
const values = new Map<string, string[]>();
const one = (key: string): string => values.get(key)?.[0] ?? '';
const all = (key: string): string => (values.get(key) ?? []).join('\n');

function script(u: TestUser): string {
  const env = `env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=${u.home} USER=${u.name} LANG=C.UTF-8 XDG_RUNTIME_DIR=/tmp/rlrun`;
  const ts = `${env} ${process.execPath} ${tsbuildBin} --root /tmp/rlstore`;
  return `
set -u
mkdir -p /tmp/rlstore /tmp/rlrun && chown ${u.uid}:${u.gid} /tmp/rlstore /tmp/rlrun && chmod 700 /tmp/rlrun
echo "+cpu +memory +pids" > /sys/fs/cgroup/cgroup.subtree_control
mkdir ${D} ${D}/init
echo "+cpu +memory +pids" > ${D}/cgroup.subtree_control
chown ${u.uid}:${u.gid} ${D} ${D}/cgroup.procs ${D}/cgroup.subtree_control ${D}/cgroup.threads
chown -R ${u.uid}:${u.gid} ${D}/init
mkdir -p /sys/fs/cgroup/plain/init
# As user: "tsbuild ..." from the delegated leaf (root moves the shell there, then drops to the user).
asuser() { sh -c "echo \\$\\$ > $1/cgroup.procs; exec runuser -u ${u.name} -- $2"; }
asuser ${D}/init "${ts} load -i ${busyboxLayout}" >/dev/null 2>/tmp/load.err; echo "load.status=$?"
sed 's/^/load.stderr=/' /tmp/load.err
asuser ${D}/init "${ts} run --rm --memory 32m ${IMG} tail /dev/zero" 2>/tmp/mem.err; echo "mem.status=$?"
sed 's/^/mem.stderr=/' /tmp/mem.err
fork30='for i in $(seq 30); do sleep 2 & done; echo all-forked'
asuser ${D}/init "${ts} run --rm --pids-limit 10 ${IMG} sh -c '$fork30'" >/tmp/pids.out 2>/tmp/pids.err; echo "pids.status=$?"
sed 's/^/pids.stdout=/' /tmp/pids.out; sed 's/^/pids.stderr=/' /tmp/pids.err
echo "inside=$(asuser ${D}/init "${ts} run --rm --cpus 0.5 --memory 32m ${IMG} cat /sys/fs/cgroup/cpu.max /sys/fs/cgroup/memory.max" 2>&1 | tr '\\n' ,)"
# Detached: its cgroup sits below the delegated one, exec joins it, rm -f removes it.
asuser ${D}/init "${ts} run -d --name lim --memory 32m --pids-limit 10 ${IMG} sleep 600" >/dev/null 2>/tmp/d.err; echo "d.status=$?"
sed 's/^/d.stderr=/' /tmp/d.err
for f in ${D}/tsbuild/*/memory.max; do echo "d.memory.max=$(cat $f)"; echo "d.procs=$(wc -l < $(dirname $f)/cgroup.procs)"; done
echo "d.exec=$(asuser ${D}/init "${ts} exec lim cat /sys/fs/cgroup/pids.max" 2>&1)"
asuser ${D}/init "${ts} rm -f lim" >/dev/null 2>&1; echo "d.rm=$?"
echo "d.left=$(find ${D}/tsbuild -mindepth 1 -type d | wc -l)"
asuser ${D}/init "${ts} run --rm --memory 32m ${IMG} true" >/dev/null 2>&1; echo "after.dirs=$(find ${D} -mindepth 1 -type d | grep -v '^${D}/init$' | grep -v '^${D}/tsbuild$' | wc -l)"
asuser /sys/fs/cgroup/plain/init "${ts} run --rm --memory 32m ${IMG} true" 2>/tmp/plain.err; echo "plain.status=$?"
sed 's/^/plain.stderr=/' /tmp/plain.err
echo "end.procs=$(cat ${D}/init/cgroup.procs | wc -l)"
echo "end.overlays=$(grep -c ' overlay ' /proc/mounts)"
`;
}

beforeAll(async () => {
  expect(existsSync(LINUX_UML), `${LINUX_UML} (Debian's user-mode-linux) is missing`).toBe(true);
  user = createTestUser('tsrv');
  guest = await runInGuest(script(user), { expose: [busyboxLayout], timeoutMs: 480_000 });
  for (const line of guest.output.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) values.set(line.slice(0, eq), [...(values.get(line.slice(0, eq)) ?? []), line.slice(eq + 1)]);
  }
}, 600_000);

afterAll(() => user?.remove());

describe('rootless limits in a delegated cgroup v2 subtree (user-mode-linux guest)', () => {
  it('boots and loads the image as the user', () => {
    expect(guest.status, guest.console).toBe(0);
    expect(one('load.status'), all('load.stderr')).toBe('0');
  });
  it('OOM-kills a memory hog under --memory 32m with 137', () => {
    expect(one('mem.status'), guest.output).toBe('137');
    expect(all('mem.stderr')).toMatch(/out of memory/);
  });
  it('stops forks at --pids-limit 10', () => {
    expect(one('pids.status'), guest.output).not.toBe('0');
    expect(all('pids.stdout')).not.toContain('all-forked');
  });
  it('writes cpu.max and memory.max for --cpus and --memory', () => {
    expect(one('inside'), guest.output).toBe('50000 100000,33554432,');
  });
  it('puts a detached container cgroup below the delegated one; exec joins it, rm -f removes it', () => {
    expect(one('d.status'), all('d.stderr')).toBe('0');
    expect(values.get('d.memory.max'), guest.output).toEqual([String(32 * 1024 * 1024)]);
    expect(one('d.procs')).not.toBe('0');
    expect(one('d.exec')).toBe('10');
    expect(one('d.rm')).toBe('0');
    expect(one('d.left')).toBe('0');
  });
  it('leaves no container cgroup, process or mount behind', () => {
    expect(one('after.dirs'), guest.output).toBe('0');
    expect(one('end.procs')).toBe('0');
    expect(one('end.overlays')).toBe('0');
  });
  it('refuses a limit without delegation in one line that names the file', () => {
    expect(one('plain.status'), guest.output).toBe('125');
    expect(values.get('plain.stderr')).toHaveLength(1);
    expect(one('plain.stderr')).toMatch(/^tsbuild: rootless: --memory needs a cgroup: this user has no delegated cgroup v2 subtree: \/sys\/fs\/cgroup\/plain is not owned and writable by it/);
  });
});
