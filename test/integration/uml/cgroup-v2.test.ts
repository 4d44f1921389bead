// The resource limits on cgroup v2, against a real kernel: this host is
// cgroup v1 (hybrid), so the scenarios of run.test.ts run again inside a
// user-mode-linux guest (guest.ts) whose kernel has only the unified
// hierarchy. One boot runs every scenario (a boot and each CLI call are
// slow in UML); the guest prints `key=value` lines that the tests check.
//
// CPU is measured the way the kernel accounts it, not with top: the
// container cgroup's cpu.stat usage_usec over the guest's uptime, both on
// the guest's clock. A control run without a quota shows that UML itself
// does not hold md5sum near 20%.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { busyboxLayout } from '../fixtures.js';
import { LINUX_UML, runInGuest, type GuestResult } from './guest.js';

const IMG = 'docker.io/library/busybox:stable';
const CG = '/sys/fs/cgroup';

const script = `
set -u
IMG=${IMG}
cgroup_of() { tsbuild inspect "$1" | sed -n 's/.*"cgroup": "\\(.*\\)".*/\\1/p'; }
usage() { sed -n 's/^usage_usec //p' "$1/cpu.stat"; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }
# Samples a cgroup's CPU use over 5 s after a 1 s warm-up: usage_usec and uptime, before and after.
sample() { sleep 1; u0=$(usage "$2"); t0=$(uptime_s); sleep 5; u1=$(usage "$2"); t1=$(uptime_s); echo "$1=$u0 $t0 $u1 $t1"; }
container_dirs() { find ${CG}/tsbuild -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l; }

tsbuild load -i ${busyboxLayout} >/dev/null || { echo "load failed"; exit 10; }
echo "controllers=$(cat ${CG}/cgroup.controllers)"

# CPU: a 20% quota, then the same command without one.
tsbuild run -d --name cpu20 --cpu-period 100000 --cpu-quota 20000 $IMG md5sum /dev/urandom >/dev/null
cg=${CG}/$(cgroup_of cpu20)
echo "cpu20.cpu.max=$(cat $cg/cpu.max)"
pid=$(head -1 $cg/cgroup.procs)
sample cpu20.sample $cg
echo "cpu20.nr_throttled=$(sed -n 's/^nr_throttled //p' $cg/cpu.stat)"
tsbuild rm -f cpu20 >/dev/null; echo "cpu20.rm=$?"
if kill -0 "$pid" 2>/dev/null; then echo "cpu20.process=alive"; else echo "cpu20.process=gone"; fi
if [ -d "$cg" ]; then echo "cpu20.cgroup=left"; else echo "cpu20.cgroup=gone"; fi
tsbuild run -d --name free $IMG md5sum /dev/urandom >/dev/null
sample free.sample ${CG}/$(cgroup_of free)
tsbuild rm -f free >/dev/null

# Memory and pids limits as written, and exec joining the container's cgroup.
tsbuild run -d --name lim --memory 32m --pids-limit 10 $IMG sleep 1000 >/dev/null
cg=${CG}/$(cgroup_of lim)
echo "lim.memory.max=$(cat $cg/memory.max)"
echo "lim.memory.swap.max=$(cat $cg/memory.swap.max)"
echo "lim.pids.max=$(cat $cg/pids.max)"
echo "lim.exec.cgroup=$(tsbuild exec lim cat /proc/self/cgroup)"
tsbuild rm -f lim >/dev/null

# Inside, /sys/fs/cgroup is the container's own cgroup, read-only (runc's
# habit): runtimes there size themselves from it. Also in a user namespace.
inside='cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max; touch /sys/fs/cgroup/x 2>/dev/null || echo read-only'
echo "inside=$(tsbuild run --rm --memory 32m --cpus 0.5 $IMG sh -c "$inside" | tr '\n' ,)"
# (--uidmap with --memory and its /proc view is covered on the host by run/procview.test.ts.)
echo "inside.userns=$(tsbuild run --rm --uidmap 0:100000:65536 --cpus 0.5 $IMG sh -c "$inside" 2>&1 | tr '\n' ,)"

# A build's RUN step on this kernel (no limits, so no container cgroup of its own).
mkdir -p /tmp/ctx && printf 'FROM %s\nRUN head -c 3 /sys/fs/cgroup/cgroup.procs >/dev/null && echo built > /built\n' $IMG > /tmp/ctx/Containerfile
tsbuild build -t built:1 /tmp/ctx >/dev/null 2>/tmp/build.err; echo "build.status=$?"
sed 's/^/build.stderr=/' /tmp/build.err
echo "build.file=$(tsbuild run --rm built:1 cat /built)"

# A memory hog is killed by the kernel's OOM killer: 137 and a message.
tsbuild run --rm --memory 32m $IMG tail /dev/zero 2>/tmp/mem.err; echo "mem.status=$?"
sed 's/^/mem.stderr=/' /tmp/mem.err

# Forks stop at the pids limit; the same script forks freely without one.
fork30='for i in $(seq 30); do sleep 2 & done; echo all-forked'
tsbuild run --rm --pids-limit 10 $IMG sh -c "$fork30" >/tmp/pids.out 2>/tmp/pids.err; echo "pids.status=$?"
sed 's/^/pids.stdout=/' /tmp/pids.out; sed 's/^/pids.stderr=/' /tmp/pids.err
echo "free.forks=$(tsbuild run --rm $IMG sh -c "$fork30")"

# A limit whose controller this kernel's cgroup2 lacks (no cpuset here).
tsbuild run --rm --cpuset-cpus 0 $IMG true 2>/tmp/cpuset.err; echo "cpuset.status=$?"
sed 's/^/cpuset.stderr=/' /tmp/cpuset.err

# kill -9 of a foreground CLI: the next start removes the orphaned cgroup.
tsbuild run --name orphan $IMG sleep 300 >/dev/null 2>&1 &
cli=$!
i=0; while [ "$(cat ${CG}/tsbuild/*/cgroup.procs 2>/dev/null)" = "" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
echo "orphan.dirs.before=$(container_dirs)"
kill -9 $cli; wait $cli 2>/dev/null
# The container dies with its CLI (parent-death signal); wait for it to leave the cgroup.
i=0; while [ "$(cat ${CG}/tsbuild/*/cgroup.procs 2>/dev/null)" != "" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
echo "orphan.procs.after=$(cat ${CG}/tsbuild/*/cgroup.procs 2>/dev/null | wc -l)"
tsbuild ps -a >/dev/null
echo "orphan.dirs.after=$(container_dirs)"
tsbuild rm -f orphan >/dev/null
echo "end.dirs=$(container_dirs)"
echo "end.overlays=$(grep -c ' overlay ' /proc/mounts)"
`;

let guest: GuestResult;
const values = new Map<string, string[]>();
const one = (key: string): string => values.get(key)?.[0] ?? '';
const all = (key: string): string => (values.get(key) ?? []).join('\n');

function cmdline(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

/** CPU share from a `sample` line: usage over wall time, both on the guest's clock. */
function share(key: string): number {
  const [u0, t0, u1, t1] = one(key).split(' ').map(Number) as [number, number, number, number];
  return (u1 - u0) / 1e6 / (t1 - t0);
}

beforeAll(async () => {
  expect(existsSync(LINUX_UML), `${LINUX_UML} (Debian's user-mode-linux) is missing`).toBe(true);
  guest = await runInGuest(script, { expose: [busyboxLayout], timeoutMs: 480_000 });
  for (const line of guest.output.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) values.set(line.slice(0, eq), [...(values.get(line.slice(0, eq)) ?? []), line.slice(eq + 1)]);
  }
}, 600_000);

describe('cgroup v2 on a real kernel (user-mode-linux guest)', () => {
  it('boots a cgroup-v2-only guest and runs the whole scenario', () => {
    expect(guest.timedOut, guest.console).toBe(false);
    expect(guest.status, guest.console).toBe(0);
    expect(one('controllers')).toMatch(/\bcpu\b.*\bmemory\b.*\bpids\b/);
  });

  it('holds --cpu-period 100000 --cpu-quota 20000 at 20% +- 5%', () => {
    expect(one('cpu20.cpu.max')).toBe('20000 100000');
    const used = share('cpu20.sample');
    expect(used, guest.output).toBeGreaterThan(0.15);
    expect(used, guest.output).toBeLessThan(0.25);
    expect(Number(one('cpu20.nr_throttled'))).toBeGreaterThan(0);
    // Without the quota the same command takes most of the guest's CPU.
    const free = share('free.sample');
    expect(free, guest.output).toBeGreaterThan(0.5);
    console.info(`cgroup v2 (UML ${one('controllers')}): md5sum at ${(used * 100).toFixed(1)}% under a 20% quota, ${(free * 100).toFixed(1)}% without`);
  });

  it('rm -f kills the process and leaves no container cgroup', () => {
    expect(one('cpu20.rm')).toBe('0');
    expect(one('cpu20.process')).toBe('gone');
    expect(one('cpu20.cgroup')).toBe('gone');
  });

  it('writes memory.max, memory.swap.max and pids.max, and exec joins the cgroup', () => {
    expect(one('lim.memory.max')).toBe(String(32 * 1024 * 1024));
    expect(one('lim.memory.swap.max')).toBe('0');
    expect(one('lim.pids.max')).toBe('10');
    // In the container's cgroup namespace its own cgroup is the root.
    expect(one('lim.exec.cgroup')).toBe('0::/');
  });

  it('shows the container its own cgroup, read-only, at /sys/fs/cgroup', () => {
    expect(one('inside')).toBe('33554432,50000 100000,read-only,');
    expect(one('inside.userns')).toBe('max,50000 100000,read-only,');
  });

  it('builds an image whose RUN step runs on this kernel', () => {
    expect(one('build.status'), all('build.stderr')).toBe('0');
    expect(one('build.file')).toBe('built');
  });

  it('makes a memory hog under --memory 32m exit 137 with a message', () => {
    expect(one('mem.status')).toBe('137');
    expect(all('mem.stderr')).toMatch(/^tsbuild: container \S+ was killed: out of memory \(memory limit 32MiB reached\)$/);
  });

  it('stops forks at --pids-limit 10', () => {
    expect(one('pids.status')).not.toBe('0');
    expect(all('pids.stdout')).not.toContain('all-forked');
    expect(all('pids.stderr')).toMatch(/can't fork/);
    expect(one('free.forks')).toBe('all-forked');
  });

  it('refuses a limit whose controller the kernel lacks, in one line', () => {
    expect(one('cpuset.status')).toBe('125');
    expect(values.get('cpuset.stderr')).toHaveLength(1);
    expect(one('cpuset.stderr')).toMatch(/^tsbuild: .*cpuset controller is not available/);
  });

  it('removes the cgroup of a container whose CLI was killed -9, on the next start', () => {
    expect(one('orphan.dirs.before')).toBe('1');
    expect(one('orphan.procs.after')).toBe('0');
    expect(one('orphan.dirs.after')).toBe('0');
    expect(one('end.dirs')).toBe('0');
    expect(one('end.overlays')).toBe('0');
  });

  it('leaves nothing of the guest on the host', () => {
    expect(existsSync(guest.dir)).toBe(false);
    const uml = readdirSync('/proc').filter((p) => /^\d+$/.test(p) && cmdline(p).includes(guest.dir));
    expect(uml).toEqual([]);
  });
});
