// The differential corpus itself (test/fixtures/containerfiles), without
// root or oracles: every case.json is well formed (a skip says why, an
// expected failure has a regex that compiles and no quirks, stdin modes are
// known, the named Containerfile exists), and a build is spelled the same
// way for every tool (test/integration/build/corpus-invoke.ts).
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { invocation } from '../../shared/corpus-invoke.js';
import { listCases } from '../../shared/corpus.js';

const STDIN = new Set(['containerfile', 'containerfile-only', 'context-tar', 'context-tar-gz']);

describe('corpus cases', () => {
  for (const c of listCases()) {
    it(`${c.name}: case.json is well formed`, () => {
      expect(c.builds.length).toBeGreaterThan(0);
      for (const b of c.builds) {
        if (b.stdin !== undefined) expect(STDIN.has(b.stdin), `${b.tag}: stdin ${b.stdin}`).toBe(true);
        const inTar = b.stdin === 'context-tar' || b.stdin === 'context-tar-gz';
        const file = b.file ?? (inTar ? 'Dockerfile' : 'Containerfile');
        expect(existsSync(join(c.dir, file)), `${b.tag}: ${file}`).toBe(true);
        for (const skip of [b.buildahSkip, b.buildkitSkip]) if (skip !== undefined) expect(skip.length, `${b.tag}: a skip says why`).toBeGreaterThan(20);
        expect(b.buildahSkip !== undefined && b.buildkitSkip !== undefined, `${b.tag}: at least one oracle compares`).toBe(false);
        if (b.fails) {
          expect(() => new RegExp(b.fails?.error ?? ''), b.tag).not.toThrow();
          expect(b.fails.why.length).toBeGreaterThan(10);
          const quirks = [b.buildahQuirks, b.buildahConfigQuirks, b.buildkitQuirks, b.buildkitConfigQuirks].flat().filter(Boolean);
          expect(quirks, `${b.tag}: a build that fails has no image to have quirks in`).toEqual([]);
        }
        for (const q of [...(b.buildahQuirks ?? []), ...(b.buildkitQuirks ?? []), ...(b.buildahConfigQuirks ?? []), ...(b.buildkitConfigQuirks ?? [])]) {
          expect(q.why.length, `${b.tag}: a quirk gives its evidence`).toBeGreaterThan(20);
        }
      }
    });
  }
});

describe('invocation', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbuild-corpus-unit-'));
  writeFileSync(join(dir, 'Containerfile'), 'FROM scratch\n');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('spells build args, bare args, labels, bare labels, secrets and the target as docker, buildah and tsbuild all take them', () => {
    const inv = invocation({
      tag: 't', buildArgs: { A: '1' }, buildArgsBare: ['B'], labels: { L: 'v' }, labelsBare: ['E'], secrets: ['id=s,env=S'], target: 'st', env: { B: 'from env' },
    }, dir);
    expect(inv.flags).toEqual(['-f', join(dir, 'Containerfile'), '--build-arg', 'A=1', '--build-arg', 'B', '--label', 'L=v', '--label', 'E', '--secret', 'id=s,env=S', '--target', 'st']);
    expect(inv.context).toBe(dir);
    expect(inv.input).toBeUndefined();
    expect(inv.env).toEqual({ B: 'from env' });
  });

  it('-f - puts the Containerfile on stdin with the dir as context; containerfile-only has no context', () => {
    const dashF = invocation({ tag: 't', stdin: 'containerfile' }, dir);
    expect(dashF.flags).toEqual(['-f', '-']);
    expect(dashF.context).toBe(dir);
    expect(dashF.input?.toString()).toBe('FROM scratch\n');
    const only = invocation({ tag: 't', stdin: 'containerfile-only' }, dir);
    expect(only.flags).toEqual([]);
    expect(only.context).toBe('-');
    expect(only.input?.toString()).toBe('FROM scratch\n');
  });
});
