import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findDelegation, neededControllers, ownCgroupPath } from '../../../src/run/cgroup-delegation.js';

// A cgroup2-shaped tree in a temp dir, owned by the test's uid: as systemd's
// chown-based delegation leaves it (kernel cgroup-v2.rst, "Delegation").
let fsRoot: string;
const uid = process.getuid?.() ?? 0;

function cg(rel: string, controllers: string, subtree = ''): string {
  const dir = join(fsRoot, rel);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'cgroup.controllers'), controllers + '\n');
  writeFileSync(join(dir, 'cgroup.subtree_control'), subtree + '\n');
  writeFileSync(join(dir, 'cgroup.procs'), '');
  writeFileSync(join(dir, 'cgroup.threads'), '');
  return dir;
}

beforeEach(() => {
  fsRoot = mkdtempSync(join(tmpdir(), 'tsbuild-cgdeleg-'));
  cg('', 'cpu io memory pids', 'cpu io memory pids');
  cg('user', 'cpu io memory pids', 'cpu memory pids');
  cg('user/init', 'cpu memory pids');
});
afterEach(() => rmSync(fsRoot, { recursive: true, force: true }));

describe('ownCgroupPath', () => {
  it('reads the unified line of /proc/self/cgroup', () => {
    expect(ownCgroupPath('0::/user/init\n')).toBe('/user/init');
    expect(ownCgroupPath('12:pids:/x\n1:name=systemd:/x\n0::/user.slice/a.scope\n')).toBe('/user.slice/a.scope');
    expect(ownCgroupPath('12:pids:/x\n1:name=systemd:/x\n')).toBeUndefined();
  });
});

describe('neededControllers', () => {
  it('names the controllers each flag writes', () => {
    expect(neededControllers({ memory: 1, pids: 5, cpuQuota: 50000, cpuPeriod: 100000 })).toEqual(['cpu', 'memory', 'pids']);
    expect(neededControllers({})).toEqual([]);
  });
});

describe('findDelegation', () => {
  it('uses the parent of our leaf when the user owns it and its controllers are on', () => {
    expect(findDelegation(fsRoot, '/user/init', uid, ['memory', 'pids', 'cpu'])).toEqual({ ok: true, base: join(fsRoot, 'user') });
  });
  it('says cgroup v1 when there is no unified membership or no cgroup2 root', () => {
    expect(findDelegation(fsRoot, undefined, uid, ['memory'])).toMatchObject({ ok: false, why: expect.stringMatching(/cgroup v1/) });
    rmSync(join(fsRoot, 'cgroup.controllers'));
    expect(findDelegation(fsRoot, '/user/init', uid, ['memory'])).toMatchObject({ ok: false, why: expect.stringMatching(/cgroup v1/) });
  });
  it('names the file the user does not own', () => {
    const r = findDelegation(fsRoot, '/user/init', uid + 1, ['memory']);
    expect(r).toEqual({ ok: false, why: expect.stringContaining(`${join(fsRoot, 'user')} is not owned and writable`) });
    chmodSync(join(fsRoot, 'user/cgroup.subtree_control'), 0o444);
    expect(findDelegation(fsRoot, '/user/init', uid, ['memory'])).toEqual({ ok: false, why: expect.stringContaining('user/cgroup.subtree_control is not owned and writable') });
  });
  it('tells a user sitting in the delegated cgroup itself to start in a leaf', () => {
    chmodSync(join(fsRoot, 'cgroup.procs'), 0o444);
    const r = findDelegation(fsRoot, '/user', uid, ['memory']);
    expect(r.ok).toBe(false);
    cg('a/b', 'memory');
    chmodSync(join(fsRoot, 'a'), 0o555);
    expect(findDelegation(fsRoot, '/a/b', uid, ['memory'])).toEqual({ ok: false, why: expect.stringContaining('start tsbuild in a leaf child of it (e.g. /a/b/init)') });
    chmodSync(join(fsRoot, 'a'), 0o755);
  });
  it('names a controller that is not delegated or not enabled', () => {
    writeFileSync(join(fsRoot, 'user/cgroup.controllers'), 'cpu memory\n');
    expect(findDelegation(fsRoot, '/user/init', uid, ['pids'])).toEqual({ ok: false, why: expect.stringMatching(/the pids controller is not delegated: .*user\/cgroup.controllers lists only "cpu memory"/) });
    writeFileSync(join(fsRoot, 'user/cgroup.controllers'), 'cpu io memory pids\n');
    writeFileSync(join(fsRoot, 'user/cgroup.subtree_control'), 'memory\n');
    expect(findDelegation(fsRoot, '/user/init', uid, ['cpu'])).toEqual({ ok: false, why: expect.stringMatching(/the cpu controller is not enabled in .*user\/cgroup.subtree_control \(it has "memory"\)/) });
  });
  it('refuses a process in the root cgroup or a top-level one', () => {
    expect(findDelegation(fsRoot, '/', uid, ['memory'])).toMatchObject({ ok: false, why: expect.stringMatching(/no delegated parent/) });
    expect(findDelegation(fsRoot, '/user', uid, ['memory'])).toMatchObject({ ok: false, why: expect.stringMatching(/no delegated parent/) });
  });
});
