// Seccomp and the time namespace, checked from inside real containers and
// build steps: docker's default profile (Seccomp: 2, no new user namespace
// without CAP_SYS_ADMIN), a user's profile and `unconfined` on run, exec,
// from and build, BuildKit's `RUN --security=insecure` entitlement, and
// clocks that count from the container's start while the host's time stays
// out of reach.
import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxStore, expectOneLineError, tsbuild } from '../fixtures.js';

const IMG = 'docker.io/library/busybox:stable';
let root: string;
let cleanup: () => void;
let work: string;
let denyMkdir: string;

beforeAll(() => {
  ({ root, work, cleanup } = busyboxStore('security'));
  denyMkdir = join(work, 'deny-mkdir.json');
  writeFileSync(denyMkdir, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] }));
});

afterAll(() => {
  const ps = tsbuild(root, ['ps', '-a', '--format', 'json']);
  const names = (JSON.parse(ps.stdout || '[]') as { name: string }[]).map((c) => c.name);
  if (names.length > 0) tsbuild(root, ['rm', '-f', ...names]);
  cleanup?.();
});

function run(args: string[], script: string) {
  return tsbuild(root, ['run', '--rm', ...args, IMG, 'sh', '-c', script]);
}

/** Builds `lines` (after FROM) and returns the result; RUN output is on stderr. */
function build(lines: string[], flags: string[] = []) {
  const ctx = mkdtempSync(join(work, 'ctx-'));
  writeFileSync(join(ctx, 'Containerfile'), [`FROM ${IMG}`, ...lines, ''].join('\n'));
  return tsbuild(root, ['build', '--progress', 'plain', '--no-cache', ...flags, ctx]);
}

function hostUptime(): number {
  return Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
}

describe('seccomp on tsbuild run', () => {
  it('applies docker default profile: filter mode, no new user namespace, plain fork still works', () => {
    const r = run([], 'grep "^Seccomp:" /proc/self/status; unshare -U true; echo "unshare=$?"; (true) && echo forked');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Seccomp:\s+2$/m);
    expect(r.stdout).toContain('unshare=1');
    expect(r.stderr).toContain('unshare(0x10000000): Operation not permitted');
    expect(r.stdout).toContain('forked');
  });

  it('honours a docker-format profile and unconfined', () => {
    const denied = run(['--security-opt', `seccomp=${denyMkdir}`], 'grep "^Seccomp:" /proc/self/status; mkdir /made; echo "mkdir=$?"');
    expect(denied.stdout).toMatch(/^Seccomp:\s+2$/m);
    expect(denied.stdout).toContain('mkdir=1');
    expect(denied.stderr).toContain("can't create directory '/made': Operation not permitted");
    const open = run(['--security-opt', 'seccomp=unconfined'], 'grep "^Seccomp:" /proc/self/status; mkdir /made && echo made');
    expect(open.stdout).toMatch(/^Seccomp:\s+0$/m);
    expect(open.stdout).toContain('made');
  });

  it('refuses a broken or missing profile with one line naming the file, creating nothing', () => {
    const bad = join(work, 'bad.json');
    writeFileSync(bad, '{"defaultAction": ');
    for (const [file, what] of [[bad, 'invalid seccomp profile'], [join(work, 'absent.json'), 'cannot read the seccomp profile']] as const) {
      const r = run(['--security-opt', `seccomp=${file}`], 'true');
      expect(r.status).toBe(125);
      expectOneLineError(r.stderr);
      expect(r.stderr).toContain(what);
      expect(r.stderr).toContain(`(${file})`);
    }
    const wrongAction = join(work, 'wrong-action.json');
    writeFileSync(wrongAction, JSON.stringify({ defaultAction: 'SCMP_ACT_MAYBE' }));
    const r = run(['--security-opt', `seccomp=${wrongAction}`], 'true');
    expect(r.status).toBe(125);
    expect(r.stderr).toContain('unsupported seccomp action SCMP_ACT_MAYBE');
    expect(JSON.parse(tsbuild(root, ['ps', '-a', '--format', 'json']).stdout || '[]')).toEqual([]);
  });
});

describe('the time namespace', () => {
  it('counts uptime from the container start, in a namespace of its own', () => {
    const before = hostUptime();
    const r = run([], 'cat /proc/uptime; readlink /proc/self/ns/time');
    expect(r.status, r.stderr).toBe(0);
    const [uptimeLine, nsLine] = r.stdout.trim().split('\n');
    const uptime = Number(uptimeLine?.split(' ')[0]);
    // The host had been up for `before` seconds when the container started: the container's clock must not include them.
    expect(uptime).toBeLessThan(before);
    expect(uptime).toBeLessThan(30);
    expect(nsLine).toMatch(/^time:\[\d+\]$/);
    expect(nsLine).not.toBe(readlinkSync('/proc/self/ns/time'));
  });

  it('works in a user namespace too, where the offsets are written before the ids change', () => {
    const before = hostUptime();
    const r = run(['--uidmap', '0:100000:65536'], 'grep "^Seccomp:" /proc/self/status; cat /proc/uptime; unshare -U true; echo "unshare=$?"');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Seccomp:\s+2$/m);
    expect(r.stdout).toContain('unshare=1');
    expect(Number(/^(\d+\.\d+) /m.exec(r.stdout)?.[1])).toBeLessThan(before);
  });

  it('still cannot set the clock: CAP_SYS_TIME stays dropped', () => {
    const r = run([], 'date -s 2001-02-03 2>&1; date +%Y');
    expect(r.stdout).toContain('Operation not permitted');
    expect(r.stdout.trim().split('\n').at(-1)).not.toBe('2001');
  });
});

describe('exec and working containers', () => {
  it('exec joins the container time namespace and runs under its profile', () => {
    for (const [opts, mode] of [[[], '2'], [['--security-opt', 'seccomp=unconfined'], '0']] as const) {
      const id = tsbuild(root, ['run', '-d', ...opts, IMG, 'sleep', '60']).stdout.trim();
      try {
        const r = tsbuild(root, ['exec', id, 'sh', '-c', 'grep "^Seccomp:" /proc/self/status; readlink /proc/self/ns/time; readlink /proc/1/ns/time']);
        expect(r.status, r.stderr).toBe(0);
        const [seccomp, own, pid1] = r.stdout.trim().split('\n');
        expect(seccomp).toMatch(new RegExp(`^Seccomp:\\s+${mode}$`));
        expect(own).toBe(pid1);
        expect(own).not.toBe(readlinkSync('/proc/self/ns/time'));
      } finally {
        tsbuild(root, ['rm', '-f', id]);
      }
    }
  });

  it('a working container keeps the profile given to from', () => {
    const name = tsbuild(root, ['from', '--security-opt', `seccomp=${denyMkdir}`, IMG]).stdout.trim();
    try {
      const r = tsbuild(root, ['run', name, 'sh', '-c', 'mkdir /made; echo "mkdir=$?"']);
      expect(r.stdout).toContain('mkdir=1');
      const open = tsbuild(root, ['run', '--security-opt', 'seccomp=unconfined', name, 'sh', '-c', 'mkdir /made && echo made']);
      expect(open.stdout).toContain('made');
    } finally {
      tsbuild(root, ['rm', '-f', name]);
    }
  });
});

describe('seccomp in build steps', () => {
  it('RUN steps get the default profile and a fresh clock', () => {
    const r = build(['RUN grep "^Seccomp:" /proc/self/status && ! unshare -U true && cat /proc/uptime']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^Seccomp:\s+2$/m);
    expect(r.stderr).toContain('unshare(0x10000000): Operation not permitted');
    const uptime = Number(/^(\d+\.\d+) \d+\.\d+$/m.exec(r.stderr)?.[1]);
    expect(uptime).toBeLessThan(hostUptime());
  });

  it('--security-opt applies to every RUN step', () => {
    const denied = build(['RUN true', 'RUN mkdir /made'], ['--security-opt', `seccomp=${denyMkdir}`]);
    expect(denied.status).not.toBe(0);
    expect(denied.stderr).toContain("can't create directory '/made': Operation not permitted");
    expect(denied.stderr.trim().split('\n').at(-1)).toMatch(/^tsbuild: RUN mkdir \/made: the command returned a non-zero code: 1 \(Containerfile:3\)$/);
    const open = build(['RUN grep "^Seccomp:" /proc/self/status'], ['--security-opt', 'seccomp=unconfined']);
    expect(open.status, open.stderr).toBe(0);
    expect(open.stderr).toMatch(/^Seccomp:\s+0$/m);
  });

  it('RUN --security=insecure needs --allow security.insecure, as in BuildKit', () => {
    const lines = ['RUN echo first-step-ran', 'RUN --security=insecure grep -E "^(Seccomp|CapEff):" /proc/self/status && unshare -U true && echo unshared'];
    const refused = build(lines);
    expect(refused.status).not.toBe(0);
    expectOneLineError(refused.stderr);
    expect(refused.stderr).toContain('RUN --security=insecure is not allowed: grant it with --allow security.insecure (Containerfile:3)');
    expect(refused.stderr).not.toContain('first-step-ran');
    const allowed = build(lines, ['--allow', 'security.insecure']);
    expect(allowed.status, allowed.stderr).toBe(0);
    expect(allowed.stderr).toMatch(/^Seccomp:\s+0$/m);
    expect(allowed.stderr).toContain('unshared');
    const capEff = BigInt(`0x${/^CapEff:\s+([0-9a-f]+)$/m.exec(allowed.stderr)?.[1] ?? '0'}`);
    expect(capEff & (1n << 21n)).not.toBe(0n); // CAP_SYS_ADMIN
  });
});

describe('bad --security-opt and --allow values', () => {
  it('are usage errors', () => {
    const opt = tsbuild(root, ['run', '--rm', '--security-opt', 'apparmor=unconfined', IMG, 'true']);
    expect(opt.status).toBe(125);
    expectOneLineError(opt.stderr);
    const dir = join(work, 'allow-ctx');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'Containerfile'), `FROM ${IMG}\n`);
    const allow = tsbuild(root, ['build', '--allow', 'device', dir]);
    expect(allow.status).toBe(125);
    expect(allow.stderr).toContain('invalid --allow "device"');
  });
});
