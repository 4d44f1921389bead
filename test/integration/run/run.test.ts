// The foundation's promises, checked against real namespaces, overlayfs and
// cgroups with a busybox rootfs made from Debian's busybox-static.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeTag } from '../../../src/run/cgroups.js';
import { busyboxRootfs, expectOneLineError, finished, hostMountsMentioning, sleep, tempRoot, tsbuild, tsbuildAsync, tsbuildBin } from '../fixtures.js';

const IMG = `dir:${busyboxRootfs}`;
let root: string;
let cleanup: () => void;

beforeAll(() => ({ root, cleanup } = tempRoot('run')));
afterAll(() => {
  tsbuild(root, ['rm', '-f', ...containerNames()]);
  cleanup();
});

function containerNames(): string[] {
  const r = tsbuild(root, ['ps', '-a', '--format', 'json']);
  return (JSON.parse(r.stdout || '[]') as { name: string }[]).map((c) => c.name);
}

function stateOf(name: string): { id: string; pid: number; cgroupName: string; status: string } {
  const r = tsbuild(root, ['inspect', name]);
  const j = JSON.parse(r.stdout) as { id: string; state: { pid: number; status: string }; cgroup: string };
  return { id: j.id, pid: j.state.pid, cgroupName: j.cgroup, status: j.state.status };
}

function cgroupDirsFor(name: string): string[] {
  return ['pids', 'memory', 'cpu', 'cpuset'].map((c) => `/sys/fs/cgroup/${c}/${name}`).filter((d) => existsSync(d));
}

/** True while the process runs; a zombie (dead, not yet reaped by init) counts as gone. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function cpuTicks(pid: number): number {
  const stat = execFileSync('cat', [`/proc/${pid}/stat`], { encoding: 'utf8' });
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]);
}

describe('tsbuild run', () => {
  it('runs the command as PID 1 in its own PID namespace', () => {
    const r = tsbuild(root, ['run', '--rm', IMG, 'ps', '-ef']);
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^\s*1\s+root\s+ps -ef$/);
  });

  it('sets the hostname, /etc/hostname and /etc/hosts', () => {
    const r = tsbuild(root, ['run', '--rm', '--hostname', 'box-one', IMG, 'sh', '-c', 'hostname; cat /etc/hostname; cat /etc/hosts']);
    expect(r.status).toBe(0);
    const [hostname, etcHostname, ...hosts] = r.stdout.trim().split('\n');
    expect(hostname).toBe('box-one');
    expect(etcHostname).toBe('box-one');
    expect(hosts.join('\n')).toMatch(/^127\.0\.1\.1\s+box-one$/m);
    expect(hosts.join('\n')).toMatch(/^127\.0\.0\.1\s+localhost$/m);
  });

  it('has an overlay root with lowerdir, upperdir and workdir', () => {
    const r = tsbuild(root, ['run', '--rm', IMG, 'cat', '/proc/mounts']);
    const rootLine = r.stdout.split('\n').find((l) => l.split(' ')[1] === '/');
    // One `lowerdir+=` per layer: the mount API, as this kernel (>= 6.8) takes it.
    expect(rootLine).toMatch(/^overlay \/ overlay \S*lowerdir\+=[^,]*\/init,/);
    expect(rootLine).toContain(`,lowerdir+=${busyboxRootfs},`);
    expect(rootLine).toMatch(/upperdir=\S+\/upper/);
    expect(rootLine).toMatch(/workdir=\S+\/work/);
    // The container's mounts live in its own mount namespace only.
    expect(hostMountsMentioning(root)).toEqual([]);
  });

  it('gives the container its own pid, mnt, uts, ipc and net namespaces', () => {
    const kinds = ['pid', 'mnt', 'uts', 'ipc', 'net'];
    const r = tsbuild(root, ['run', '--rm', IMG, 'sh', '-c', kinds.map((k) => `readlink /proc/self/ns/${k}`).join(';')]);
    const inside = r.stdout.trim().split('\n');
    expect(inside).toHaveLength(kinds.length);
    kinds.forEach((k, i) => {
      expect(inside[i]).toMatch(new RegExp(`^${k}:\\[\\d+\\]$`));
      expect(inside[i]).not.toBe(readlinkSync(`/proc/self/ns/${k}`));
    });
    // --network host shares only the network namespace.
    const host = tsbuild(root, ['run', '--rm', '--network', 'host', IMG, 'readlink', '/proc/self/ns/net']);
    expect(host.stdout.trim()).toBe(readlinkSync('/proc/self/ns/net'));
  });

  it('brings loopback up in a private network namespace', () => {
    const r = tsbuild(root, ['run', '--rm', IMG, 'cat', '/sys/class/net/lo/operstate']);
    expect(r.stdout.trim()).toMatch(/^(unknown|up)$/);
  });

  it('runs in a user namespace with the given uid/gid maps', () => {
    const r = tsbuild(root, ['run', '-d', '--name', 'userns', '--uidmap', '0:100000:65536', IMG, 'sh', '-c', 'id -u > /uid; touch /ok; exec sleep 300']);
    expect(r.status).toBe(0);
    const { pid } = stateOf('userns');
    const inside = tsbuild(root, ['exec', 'userns', 'sh', '-c', 'while [ ! -e /ok ]; do sleep 0.05; done; cat /proc/self/uid_map /proc/self/gid_map; cat /uid; ls /ok']);
    expect(inside.stdout).toMatch(/^\s*0\s+100000\s+65536$/m);
    expect(inside.stdout).toMatch(/^0$/m);
    expect(inside.stdout).toContain('/ok');
    // Seen from the host, the container's root is an unprivileged uid.
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    expect(status).toMatch(/^Uid:\s+100000\s+100000\s+100000\s+100000$/m);
    expect(status).toMatch(/^Gid:\s+100000\s/m);
    expect(tsbuild(root, ['rm', '-f', 'userns']).status).toBe(0);
  });

  it('passes the exit status through', () => {
    expect(tsbuild(root, ['run', '--rm', IMG, 'sh', '-c', 'exit 7']).status).toBe(7);
    expect(tsbuild(root, ['run', '--rm', IMG, 'true']).status).toBe(0);
  });

  it('keeps the default capability set, no_new_privs and masked /proc paths', () => {
    // Which sensitive files exist depends on the kernel's configuration.
    const masked = ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/proc/sched_debug'].filter((p) => existsSync(p));
    expect(masked.length).toBeGreaterThan(0);
    const script = ['grep -E "^(CapEff|CapBnd|NoNewPrivs)" /proc/self/status', ...masked.map((p) => `echo "${p} $(cat ${p} | wc -c)"`), 'echo x > /proc/sys/kernel/hostname || echo ro'];
    const r = tsbuild(root, ['run', '--rm', IMG, 'sh', '-c', script.join('; ')]);
    expect(r.stdout).toContain('CapEff:\t00000000a80425fb');
    expect(r.stdout).toContain('CapBnd:\t00000000a80425fb');
    expect(r.stdout).toContain('NoNewPrivs:\t1');
    for (const p of masked) expect(r.stdout).toMatch(new RegExp(`^${p} 0$`, 'm'));
    expect(r.stdout).toMatch(/^ro$/m);
  });

  it('holds a CPU quota of 20% and rm -f kills the process', async () => {
    const r = tsbuild(root, ['run', '-d', '--name', 'cpu20', '--cpu-period', '100000', '--cpu-quota', '20000', IMG, 'md5sum', '/dev/urandom']);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toMatch(/^[0-9a-f]{64}$/);
    const { pid, cgroupName } = stateOf('cpu20');
    await sleep(500);
    const t0 = cpuTicks(pid);
    const start = Date.now();
    await sleep(3000);
    const used = (cpuTicks(pid) - t0) / 100 / ((Date.now() - start) / 1000);
    expect(used).toBeGreaterThan(0.15);
    expect(used).toBeLessThan(0.25);
    expect(tsbuild(root, ['ps']).stdout).toContain('cpu20');
    expect(tsbuild(root, ['rm', '-f', 'cpu20']).status).toBe(0);
    expect(running(pid)).toBe(false);
    expect(cgroupDirsFor(cgroupName)).toEqual([]);
    expect(tsbuild(root, ['ps', '-a']).stdout).not.toContain('cpu20');
  });

  it('reports a memory-limit kill with status 137', () => {
    const r = tsbuild(root, ['run', '--rm', '--memory', '32m', IMG, 'tail', '/dev/zero']);
    expect(r.status).toBe(137);
    expect(r.stderr).toMatch(/out of memory \(memory limit 32MiB reached\)/);
  });

  it('shows the memory limit in /proc/meminfo', () => {
    const r = tsbuild(root, ['run', '--rm', '--memory', '64m', IMG, 'head', '-1', '/proc/meminfo']);
    expect(r.stdout).toMatch(/^MemTotal:\s+65536 kB$/m);
  });

  it('stops a shell from forking 30 children under --pids-limit 10', () => {
    const script = 'for i in $(seq 30); do sleep 2 & done; echo all-forked';
    const r = tsbuild(root, ['run', '--rm', '--pids-limit', '10', IMG, 'sh', '-c', script]);
    expect(r.stdout).not.toContain('all-forked');
    expect(r.stderr).toMatch(/can't fork/);
    const free = tsbuild(root, ['run', '--rm', IMG, 'sh', '-c', script]);
    expect(free.stdout).toContain('all-forked');
  });

  it('forwards signals to PID 1 and reports death by signal as 128+N', async () => {
    const child = tsbuildAsync(root, ['run', '--rm', IMG, 'sh', '-c', 'trap "exit 42" TERM; echo ready; while true; do sleep 0.1; done']);
    const done = finished(child);
    await new Promise<void>((resolve) => child.stdout?.once('data', () => resolve()));
    child.kill('SIGTERM');
    expect((await done).code).toBe(42);

    const victim = tsbuildAsync(root, ['run', '--name', 'victim', IMG, 'sleep', '100']);
    const ended = finished(victim);
    await sleep(700);
    expect(tsbuild(root, ['kill', 'victim']).status).toBe(0);
    expect((await ended).code).toBe(137);
    expect(tsbuild(root, ['inspect', 'victim']).stdout).toMatch(/"exitCode": 137/);
    tsbuild(root, ['rm', 'victim']);
  });

  it('kill -9 of a foreground run leaves no process, mount or cgroup', async () => {
    const child = tsbuildAsync(root, ['run', '--name', 'orphan', IMG, 'sleep', '300']);
    await sleep(800);
    const { pid, cgroupName } = stateOf('orphan');
    expect(running(pid)).toBe(true);
    child.kill('SIGKILL');
    await finished(child);
    for (let i = 0; i < 50 && running(pid); i++) await sleep(20);
    expect(running(pid)).toBe(false);
    // The next start notices and cleans up.
    expect(tsbuild(root, ['ps', '-a']).stdout).toMatch(/orphan/);
    expect(stateOf('orphan').status).toBe('exited');
    expect(cgroupDirsFor(cgroupName)).toEqual([]);
    expect(tsbuild(root, ['rm', 'orphan']).status).toBe(0);
    expect(hostMountsMentioning(root)).toEqual([]);
  });

  it('runs detached, exec joins it, logs show its output, stop ends it', () => {
    expect(tsbuild(root, ['run', '-d', '--name', 'svc', IMG, 'sh', '-c', 'echo started; exec sleep 300']).status).toBe(0);
    const ex = tsbuild(root, ['exec', 'svc', 'ps', '-ef']);
    expect(ex.status).toBe(0);
    expect(ex.stdout).toMatch(/^\s*1\s+root\s+sleep 300$/m);
    expect(tsbuild(root, ['exec', 'svc', 'sh', '-c', 'exit 3']).status).toBe(3);
    const missing = tsbuild(root, ['exec', 'svc', 'no-such-binary']);
    expect(missing.status).toBe(127);
    expectOneLineError(missing.stderr);
    expect(tsbuild(root, ['logs', 'svc']).stdout).toBe('started\n');
    const busy = tsbuild(root, ['rm', 'svc']);
    expect(busy.status).not.toBe(0);
    expect(busy.stderr).toMatch(/stop it first/);
    expect(tsbuild(root, ['stop', '-t', '1', 'svc']).status).toBe(0);
    expect(stateOf('svc').status).toBe('exited');
    expect(tsbuild(root, ['rm', 'svc']).status).toBe(0);
  });

  it('drives an interactive shell through a real terminal', async () => {
    const session = `tsb${process.pid}`;
    const cmd = `${process.execPath} ${tsbuildBin} --root ${root} run -it --name demo ${IMG} /bin/sh`;
    execFileSync('tmux', ['new-session', '-d', '-s', session, '-x', '100', '-y', '30', cmd]);
    try {
      let screen = '';
      for (let i = 0; i < 50 && !screen.includes('/ #'); i++) {
        await sleep(100);
        screen = execFileSync('tmux', ['capture-pane', '-t', session, '-p'], { encoding: 'utf8' });
      }
      execFileSync('tmux', ['send-keys', '-t', session, 'ps -ef; stty size', 'Enter']);
      for (let i = 0; i < 50 && !/^30 100$/m.test(screen); i++) {
        await sleep(100);
        screen = execFileSync('tmux', ['capture-pane', '-t', session, '-p'], { encoding: 'utf8' });
      }
      expect(screen).toMatch(/^\s*1 root\s+\/bin\/sh\s*$/m);
      expect(screen).toMatch(/^30 100$/m);
      execFileSync('tmux', ['send-keys', '-t', session, 'exit 5', 'Enter']);
      for (let i = 0; i < 50 && stateOf('demo').status === 'running'; i++) await sleep(100);
      expect(tsbuild(root, ['inspect', 'demo']).stdout).toMatch(/"exitCode": 5/);
    } finally {
      spawnSync('tmux', ['kill-session', '-t', session]);
    }
    expect(tsbuild(root, ['rm', 'demo']).status).toBe(0);
  });

  it('exec -it drives a shell in a running container through a real terminal', async () => {
    expect(tsbuild(root, ['run', '-d', '--name', 'ptyhost', IMG, 'sleep', '300']).status).toBe(0);
    const session = `tsbx${process.pid}`;
    // The shell around it prints exec's exit status where capture-pane can read it.
    const cmd = `${process.execPath} ${tsbuildBin} --root ${root} exec -it ptyhost /bin/sh; echo "exec-exit=$?"; sleep 60`;
    execFileSync('tmux', ['new-session', '-d', '-s', session, '-x', '90', '-y', '25', 'sh', '-c', cmd]);
    try {
      const capture = () => execFileSync('tmux', ['capture-pane', '-t', session, '-p'], { encoding: 'utf8' });
      let screen = '';
      for (let i = 0; i < 50 && !screen.includes('/ #'); i++) {
        await sleep(100);
        screen = capture();
      }
      execFileSync('tmux', ['send-keys', '-t', session, 'echo "term=$TERM"; stty size; ps -o pid,comm', 'Enter']);
      for (let i = 0; i < 50 && !/^25 90$/m.test(screen); i++) {
        await sleep(100);
        screen = capture();
      }
      expect(screen).toMatch(/^term=xterm$/m);
      expect(screen).toMatch(/^25 90$/m);
      expect(screen).toMatch(/^\s*1\s+sleep\s*$/m);
      execFileSync('tmux', ['send-keys', '-t', session, 'exit 6', 'Enter']);
      for (let i = 0; i < 50 && !screen.includes('exec-exit='); i++) {
        await sleep(100);
        screen = capture();
      }
      expect(screen).toMatch(/^exec-exit=6$/m);
    } finally {
      spawnSync('tmux', ['kill-session', '-t', session]);
    }
    expect(stateOf('ptyhost').status).toBe('running');
    expect(tsbuild(root, ['rm', '-f', 'ptyhost']).status).toBe(0);
  });

  it('leaves nothing behind after rm', () => {
    tsbuild(root, ['rm', '-f', ...containerNames()]);
    expect(hostMountsMentioning(root)).toEqual([]);
    for (const controller of ['pids', 'memory', 'cpu', 'cpuset']) {
      const dir = `/sys/fs/cgroup/${controller}/tsbuild`;
      const ours = existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith(`${storeTag(root)}-`)) : [];
      expect(ours).toEqual([]);
    }
    expect(readdirSync(`${root}/containers`)).toEqual([]);
  });
});

describe('bad input', () => {
  const cases: [string, string[], RegExp, number][] = [
    ['an invalid image name', ['run', '--rm', 'Not/A Valid:name!', 'true'], /invalid reference/i, 125],
    ['an image that cannot be pulled', ['run', '--rm', '127.0.0.1:1/none:1', 'true'], /127\.0\.0\.1:1/, 125],
    ['a missing directory image', ['run', '--rm', 'dir:/no/such/dir', 'true'], /not a directory/, 125],
    ['a missing command', ['run', '--rm', IMG, 'no-such-command'], /executable file not found: "no-such-command"/, 127],
    ['a non-executable command', ['run', '--rm', IMG, '/etc/passwd'], /cannot execute "\/etc\/passwd"/, 126],
    ['a bad flag value', ['run', '--rm', '--cpus', 'lots', IMG, 'true'], /invalid value "lots" for --cpus/, 125],
    ['a bad --memory string', ['run', '--rm', '--memory', '12parsecs', IMG, 'true'], /invalid size for --memory: "12parsecs"/, 125],
    ['an unknown flag', ['run', '--bogus', IMG, 'true'], /unknown flag: --bogus/, 125],
    ['no image at all', ['run'], /requires at least 1 argument/, 125],
    ['an unknown container', ['exec', 'nobody-here', 'true'], /no such container: nobody-here/, 1],
  ];
  for (const [what, args, message, code] of cases) {
    it(`gives one line and a non-zero exit for ${what}`, () => {
      const r = tsbuild(root, args);
      expect(r.status).toBe(code);
      expectOneLineError(r.stderr);
      expect(r.stderr).toMatch(message);
    });
  }
});
