// Platform rules of multi-platform builds: --platform lists, the platform a
// stage runs on, the platform ARGs BuildKit predefines, the index we write,
// and the binfmt_misc check for foreign RUN steps (against a directory laid
// out as the kernel's /proc/sys/fs/binfmt_misc is).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseStages, planBuild } from '../../../src/build/index.js';
import { stagePlatform } from '../../../src/build/platforms.js';
import { makeIndex } from '../../../src/image/index-manifest.js';
import { canonicalPlatform, parsePlatformList, runsNatively, samePlatform } from '../../../src/image/platform.js';
import { checkEmulator, matchesArch, parseBinfmtEntry } from '../../../src/run/binfmt.js';

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

describe('platform lists', () => {
  it('parses a comma list in order, without repeats, with docker aliases', () => {
    expect(parsePlatformList('linux/amd64,linux/arm64')).toEqual([{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64' }]);
    expect(parsePlatformList('linux/x86_64, linux/amd64')).toEqual([{ os: 'linux', architecture: 'amd64' }]);
    expect(parsePlatformList('linux/arm/v6')).toEqual([{ os: 'linux', architecture: 'arm', variant: 'v6' }]);
    expect(() => parsePlatformList('linux/amd64,')).toThrow(/empty entry/);
    expect(() => parsePlatformList('amd64')).toThrow(/expected os\/arch/);
  });
  it('treats arm64 and arm64/v8 as one, and writes arm64 as BuildKit does', () => {
    expect(samePlatform({ os: 'linux', architecture: 'arm64' }, { os: 'linux', architecture: 'arm64', variant: 'v8' })).toBe(true);
    expect(samePlatform({ os: 'linux', architecture: 'arm', variant: 'v6' }, { os: 'linux', architecture: 'arm' })).toBe(false);
    expect(canonicalPlatform({ os: 'linux', architecture: 'arm64', variant: 'v8' })).toEqual({ os: 'linux', architecture: 'arm64' });
  });
  it('knows what an amd64 host runs natively', () => {
    const host = { os: 'linux', architecture: 'amd64' };
    expect(runsNatively({ os: 'linux', architecture: 'amd64' }, host)).toBe(true);
    expect(runsNatively({ os: 'linux', architecture: '386' }, host)).toBe(true);
    expect(runsNatively({ os: 'linux', architecture: 'arm64' }, host)).toBe(false);
  });
});

describe('stage platforms and platform ARGs', () => {
  const text = 'FROM --platform=$BUILDPLATFORM busybox AS b\nARG TARGETARCH\nFROM busybox\nCOPY --from=b / /\n';
  const target = { os: 'linux', architecture: 'arm64' };
  const build = { os: 'linux', architecture: 'amd64' };
  it('runs a --platform=$BUILDPLATFORM stage on the host and others on the target', () => {
    const plan = planBuild(parseStages(text, { file: 'Containerfile' }), { platform: { target, build } });
    expect(plan.globalScope.get('TARGETPLATFORM')).toBe('linux/arm64');
    expect(plan.globalScope.get('TARGETARCH')).toBe('arm64');
    expect(plan.globalScope.get('BUILDPLATFORM')).toBe('linux/amd64');
    expect(plan.globalScope.get('BUILDARCH')).toBe('amd64');
    expect(plan.globalScope.get('TARGETVARIANT')).toBe('');
    const [b, final] = plan.stages;
    expect(stagePlatform(b?.platform ?? null, { target }, 'Containerfile', 1)).toEqual(build);
    expect(stagePlatform(final?.platform ?? null, { target }, 'Containerfile', 3)).toEqual(target);
    expect(stagePlatform(null, undefined, 'Containerfile', 3)).toBeUndefined();
  });
  it('reports a bad FROM --platform at its line', () => {
    expect(() => stagePlatform('linux', undefined, 'Containerfile', 4)).toThrow(/FROM --platform: invalid platform "linux"/);
  });
});

describe('image index', () => {
  it('is the same bytes for the same images, in the order asked, arm64 without v8', () => {
    const d = (n: string) => `sha256:${n.repeat(64)}`;
    const entries = [
      { digest: d('a'), size: 10, mediaType: 'application/vnd.oci.image.manifest.v1+json', platform: { os: 'linux', architecture: 'amd64' } },
      { digest: d('b'), size: 11, mediaType: 'application/vnd.oci.image.manifest.v1+json', platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    ];
    const a = makeIndex(entries);
    expect(makeIndex(entries).json).toBe(a.json);
    expect(a.index.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(a.index.manifests.map((m) => m.platform)).toEqual([{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64' }]);
  });
});

// Debian's qemu-user-static registration of qemu-aarch64, as the kernel shows it.
const AARCH64 = 'enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\noffset 0\nmagic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n';

function binfmtDir(entries: Record<string, string>, mounted = true): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsbuild-binfmt-'));
  dirs.push(dir);
  if (mounted) { writeFileSync(join(dir, 'status'), 'enabled\n'); writeFileSync(join(dir, 'register'), ''); }
  for (const [n, t] of Object.entries(entries)) writeFileSync(join(dir, n), t);
  return dir;
}

describe('binfmt_misc check', () => {
  const arm64 = { os: 'linux', architecture: 'arm64' };
  it('matches the aarch64 handler to arm64 only', () => {
    const e = parseBinfmtEntry('qemu-aarch64', AARCH64);
    expect(e.enabled).toBe(true);
    expect(e.flags).toBe('PF');
    expect(matchesArch(e, 'arm64')).toBe(true);
    expect(matchesArch(e, 'riscv64')).toBe(false);
    expect(matchesArch(e, 'amd64')).toBe(false);
  });
  it('passes with an enabled F handler', () => {
    expect(() => checkEmulator(arm64, 'linux/arm64', binfmtDir({ 'qemu-aarch64': AARCH64 }))).not.toThrow();
  });
  it('says what to install when no handler is there, disabled, or without F', () => {
    const cases = [
      binfmtDir({}),
      binfmtDir({ 'qemu-aarch64': AARCH64.replace('enabled', 'disabled') }),
      binfmtDir({ 'qemu-aarch64': AARCH64.replace('flags: PF', 'flags: P') }),
      binfmtDir({}, false),
    ];
    const messages = cases.map((dir) => { try { checkEmulator(arm64, 'linux/arm64', dir); return ''; } catch (err) { return (err as Error).message; } });
    for (const m of messages) expect(m).toMatch(/^RUN for platform linux\/arm64 needs an emulator: .*; install qemu-user-static and binfmt-support/);
    expect(messages[0]).toContain('no binfmt_misc handler for aarch64');
    expect(messages[2]).toContain('lacks the F flag');
    expect(messages[3]).toContain('not mounted');
  });
});
