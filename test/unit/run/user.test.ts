import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LayerView } from '../../../src/image/layer-view.js';
import { resolveUserSpec } from '../../../src/run/user.js';

const passwd = 'root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000:Alice:/home/alice:/bin/sh\n# comment\nbob:x:1001:100::/home/bob:/bin/false\n';
const group = 'root:x:0:\nusers:x:100:\nstaff:x:50:alice,bob\nalice:x:1000:\ndocker:x:999:alice\n';

describe('resolveUserSpec', () => {
  it('defaults to root', () => {
    expect(resolveUserSpec('', passwd, group)).toEqual({ uid: 0, gid: 0, groups: [0], home: '/root' });
    expect(resolveUserSpec('', undefined, undefined)).toEqual({ uid: 0, gid: 0, groups: [0], home: '/' });
  });
  it('resolves names with their primary and supplementary groups', () => {
    expect(resolveUserSpec('alice', passwd, group)).toEqual({ uid: 1000, gid: 1000, groups: [1000, 50, 999], home: '/home/alice' });
  });
  it('accepts an explicit group by name or number', () => {
    expect(resolveUserSpec('bob:staff', passwd, group).gid).toBe(50);
    expect(resolveUserSpec('bob:4242', passwd, group).gid).toBe(4242);
  });
  it('allows numeric ids that are not in passwd', () => {
    expect(resolveUserSpec('4000', passwd, group)).toEqual({ uid: 4000, gid: 0, groups: [0], home: '/' });
    expect(resolveUserSpec('1000', passwd, group).home).toBe('/home/alice');
  });
  it('fails clearly for unknown names', () => {
    expect(() => resolveUserSpec('mallory', passwd, group)).toThrow(/unable to find user mallory/);
    expect(() => resolveUserSpec('alice:nogroup', passwd, group)).toThrow(/unable to find group nogroup/);
    expect(() => resolveUserSpec('alice', undefined, undefined)).toThrow(/unable to find user alice/);
  });
});

describe('users from a layer stack', () => {
  it('takes the topmost copy', () => {
    const base = mkdtempSync(join(tmpdir(), 'layers-'));
    const [l1, l2, l3] = ['1', '2', '3'].map((n) => join(base, n)) as [string, string, string];
    for (const l of [l1, l2, l3]) mkdirSync(join(l, 'etc'), { recursive: true });
    writeFileSync(join(l1, 'etc/passwd'), 'bottom');
    writeFileSync(join(l2, 'etc/passwd'), 'middle');
    expect(new LayerView([l1, l2, l3]).readFile('/etc/passwd')).toBe('middle');
    expect(new LayerView([l1]).readFile('/etc/passwd')).toBe('bottom');
    expect(new LayerView([l1, l2, l3]).readFile('/etc/group')).toBeUndefined();
    rmSync(base, { recursive: true, force: true });
  });
});
