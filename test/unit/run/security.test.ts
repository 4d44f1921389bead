import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllow, parseSecurityOpts, processSecurity } from '../../../src/run/security.js';

const dir = mkdtempSync(join(tmpdir(), 'tsbuild-security-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('parseSecurityOpts', () => {
  it('reads docker spellings', () => {
    expect(parseSecurityOpts([], dir)).toEqual({});
    expect(parseSecurityOpts(['seccomp=unconfined'], dir)).toEqual({ seccomp: 'unconfined' });
    expect(parseSecurityOpts(['seccomp:unconfined', 'no-new-privileges'], dir)).toEqual({ seccomp: 'unconfined' });
    const file = join(dir, 'p.json');
    const text = JSON.stringify({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read', 'write', 'exit_group'], action: 'SCMP_ACT_ALLOW' }] });
    writeFileSync(file, text);
    expect(parseSecurityOpts([`seccomp=${file}`], dir)).toEqual({ seccomp: text, seccompFile: file });
  });

  it('refuses what it cannot honour, naming the file', () => {
    expect(() => parseSecurityOpts(['apparmor=unconfined'], dir)).toThrow(/unsupported --security-opt "apparmor=unconfined"/);
    expect(() => parseSecurityOpts(['seccomp='], dir)).toThrow(/unsupported --security-opt/);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', args: [{ index: 9, value: 1, op: 'SCMP_CMP_EQ' }] }] }));
    try {
      parseSecurityOpts([`seccomp=${bad}`], dir);
      expect.unreachable();
    } catch (err) {
      expect((err as { describe(): string }).describe()).toBe(`seccomp argument index 9 is out of range (0-5) (${bad})`);
    }
    expect(() => parseSecurityOpts([`seccomp=${join(dir, 'absent.json')}`], dir)).toThrow(/cannot read the seccomp profile: ENOENT/);
  });
});

describe('processSecurity', () => {
  it('defaults to the default profile and docker capabilities; insecure opens everything', () => {
    expect(processSecurity(undefined)).toEqual({ seccomp: undefined, capabilities: undefined, maskPaths: true });
    expect(processSecurity({ seccomp: 'unconfined' })).toEqual({ seccomp: 'unconfined', capabilities: undefined, maskPaths: true });
    expect(processSecurity({ insecure: true })).toEqual({ seccomp: 'unconfined', capabilities: ['ALL'], maskPaths: false });
  });
});

describe('parseAllow', () => {
  it('knows BuildKit entitlements', () => {
    expect(parseAllow([])).toEqual({ insecure: false });
    expect(parseAllow(['network.host,security.insecure'])).toEqual({ insecure: true });
    expect(() => parseAllow(['device'])).toThrow(/invalid --allow "device"/);
  });
});
