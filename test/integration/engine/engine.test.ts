// The build engine's own behaviour beyond what the buildah differential
// suite compares: RUN --mount kinds, heredocs, exec form, --target,
// progress events, --output, errors with Containerfile lines, and the
// working-container workflow (from / run / commit).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layerPaths as imageLayerPaths, writeContext } from '../build/context-dirs.js';
import { busyboxLayout, expectOneLineError, tempRoot, tsbuild } from '../fixtures.js';
import { startRegistry } from '../registry-server.js';

let root: string;
let cleanup: () => void;
let work: string;

beforeAll(() => {
  ({ root, cleanup } = tempRoot('engine'));
  work = mkdtempSync(join(tmpdir(), 'tsbuild-engine-ctx-'));
  expect(tsbuild(root, ['load', '-i', busyboxLayout]).status).toBe(0);
});
afterAll(() => {
  cleanup();
  rmSync(work, { recursive: true, force: true });
});

function context(name: string, containerfile: string, files: Record<string, string> = {}): string {
  return writeContext(work, name, containerfile, files);
}

function build(dir: string, ...args: string[]) {
  return tsbuild(root, ['build', '--progress', 'plain', ...args, dir], { timeout: 120_000 });
}

function runOut(image: string, ...cmd: string[]): string {
  const r = tsbuild(root, ['run', '--rm', image, ...cmd]);
  expect(r.stderr).toBe('');
  return r.stdout;
}

function layerPaths(image: string): string[] {
  return imageLayerPaths(root, work, image);
}

describe('tsbuild build', () => {
  it('prints STEP lines, RUN output and the image ID, and the image runs', () => {
    const dir = context('basic', 'FROM busybox:stable\nARG WHO=world\nRUN echo "hello $WHO" | tee /greeting\nCMD ["cat", "/greeting"]\n');
    const r = build(dir, '-t', 'basic:1', '--build-arg', 'WHO=tests');
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(r.stderr).toMatch(/^STEP 1\/4: FROM busybox:stable$/m);
    expect(r.stderr).toMatch(/^STEP 3\/4: RUN echo "hello \$WHO" \| tee \/greeting$/m);
    expect(r.stderr).toMatch(/^hello tests$/m);
    expect(runOut('basic:1')).toBe('hello tests\n');
    // ARG values reach RUN but never the image config.
    const inspect = JSON.parse(tsbuild(root, ['inspect', 'basic:1']).stdout) as { config: { config: { Env?: string[] } } };
    expect(JSON.stringify(inspect.config.config.Env ?? [])).not.toContain('WHO');
  });

  it('runs heredoc and exec-form RUN steps', () => {
    const dir = context('heredoc', [
      'FROM busybox:stable',
      'RUN <<EOF',
      'echo one > /one',
      'echo two > /two',
      'EOF',
      'RUN <<EOF',
      '#!/bin/sh',
      'echo "script $0" > /script',
      'EOF',
      'RUN ["/bin/sh", "-c", "echo exec > /exec"]',
      '',
    ].join('\n'));
    expect(build(dir, '-t', 'heredoc:1').status).toBe(0);
    expect(runOut('heredoc:1', 'cat', '/one', '/two', '/exec')).toBe('one\ntwo\nexec\n');
    expect(runOut('heredoc:1', 'cat', '/script')).toMatch(/^script \//);
  });

  it('keeps RUN --mount caches across builds and secrets and tmpfs out of the layers', () => {
    const secret = join(work, 'token.txt');
    writeFileSync(secret, 's3cr3t-value');
    const dir = context('mounts', [
      'FROM busybox:stable',
      'ARG N=1',
      'RUN --mount=type=cache,target=/var/cache/demo echo "run $N" >> /var/cache/demo/log && cat /var/cache/demo/log > /seen',
      'RUN --mount=type=secret,id=token cat /run/secrets/token > /dev/null && test -s /run/secrets/token && echo ok > /secret-used',
      'RUN --mount=type=tmpfs,target=/scratch echo temp > /scratch/t && cat /scratch/t > /tmpfs-used',
      'RUN --mount=type=bind,source=data,target=/mnt/data cat /mnt/data/file > /from-bind',
      '',
    ].join('\n'), { 'data/file': 'bound content\n' });
    expect(build(dir, '-t', 'mounts:1', '--secret', `id=token,src=${secret}`).status).toBe(0);
    expect(build(dir, '-t', 'mounts:2', '--build-arg', 'N=2', '--secret', `id=token,src=${secret}`).status).toBe(0);
    expect(runOut('mounts:2', 'cat', '/seen')).toBe('run 1\nrun 2\n');
    expect(runOut('mounts:2', 'cat', '/secret-used', '/tmpfs-used', '/from-bind')).toBe('ok\ntemp\nbound content\n');
    const paths = layerPaths('mounts:2');
    for (const p of paths) {
      expect(p).not.toMatch(/^(\.\/)?(run\/secrets|scratch|mnt\/data|var\/cache\/demo)/);
    }
    expect(existsSync(join(root, 'cache', 'mounts'))).toBe(true);
  });

  it('builds only what --target needs, with stages in parallel', () => {
    const dir = context('stages', [
      'FROM busybox:stable AS a',
      'RUN echo a > /a',
      'FROM busybox:stable AS b',
      'RUN echo b > /b',
      'FROM busybox:stable AS broken',
      'RUN exit 1',
      'FROM a AS final',
      'COPY --from=b /b /b',
      'RUN cat /a /b > /ab',
      '',
    ].join('\n'));
    const r = build(dir, '-t', 'stages:1', '--target', 'final');
    expect(r.status).toBe(0);
    expect(r.stderr).not.toMatch(/\[broken\]/);
    expect(runOut('stages:1', 'cat', '/ab')).toBe('a\nb\n');
  });

  it('emits one JSON event per line with per-step timings', () => {
    const dir = context('json', 'FROM busybox:stable\nRUN echo json-output\n');
    const r = build(dir, '--no-cache', '--progress', 'json');
    expect(r.status).toBe(0);
    const events = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as { type: string; data?: string; timings?: Record<string, number> });
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['step', 'output', 'done', 'image']));
    expect(events.filter((e) => e.type === 'output').map((e) => e.data).join('')).toContain('json-output');
    const run = events.find((e) => e.type === 'done' && e.timings?.run !== undefined);
    expect(run?.timings?.commit).toBeGreaterThanOrEqual(0);
  });

  it('pushes with --push, and skopeo and a fresh store read what it pushed', async () => {
    const registry = await startRegistry();
    try {
      const dir = context('push', 'FROM busybox:stable\nRUN echo pushed > /pushed\n');
      const ref = `${registry.host}/pushed/app:1`;
      const r = build(dir, '-t', ref, '--push');
      expect(r.status).toBe(0);
      const inspect = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', `docker://${ref}`], { encoding: 'utf8' })) as { Layers: string[] };
      expect(inspect.Layers).toHaveLength(2);
      const other = tempRoot('engine-pull');
      try {
        expect(tsbuild(other.root, ['run', '--rm', ref, 'cat', '/pushed']).stdout).toBe('pushed\n');
      } finally {
        other.cleanup();
      }
    } finally {
      await registry.stop();
    }
  });

  it('exports with --output and the export loads back', () => {
    const dir = context('output', 'FROM busybox:stable\nRUN echo out > /out\n');
    const dest = join(work, 'out.tar');
    const r = build(dir, '-t', 'output:1', '--output', `type=oci-archive,dest=${dest}`);
    expect(r.status).toBe(0);
    expect(existsSync(dest)).toBe(true);
    const other = tempRoot('engine-load');
    try {
      expect(tsbuild(other.root, ['load', '-i', dest]).status).toBe(0);
      expect(tsbuild(other.root, ['run', '--rm', r.stdout.trim(), 'cat', '/out']).stdout).toBe('out\n');
    } finally {
      other.cleanup();
    }
  });
});

describe('build errors', () => {
  const cases: [string, string, RegExp, number][] = [
    ['a failing RUN', 'FROM busybox:stable\nRUN true\nRUN exit 3\n', /RUN exit 3: the command returned a non-zero code: 3 \(Containerfile:3\)/, 3],
    ['COPY --from an image that cannot be pulled', 'FROM busybox:stable\nCOPY --from=127.0.0.1:1/nothing/here:1 /x /x\n', /\(Containerfile:2\)$/, 2],
    ['a base image that cannot be pulled', 'FROM 127.0.0.1:1/missing:1\nRUN true\n', /\(Containerfile:1\)$/, 1],
    ['a misspelt instruction', 'FROM busybox:stable\nRUNN true\n', /RUNN.*did you mean RUN.*\(Containerfile:2\)/, 2],
  ];
  for (const [what, file, message] of cases) {
    it(`reports ${what} in one line`, () => {
      const dir = context(`err-${what.replace(/\W+/g, '-')}`, file);
      // (An undeclared --build-arg is a warning, not an error: build/cli-inputs.test.ts.)
      const r = tsbuild(root, ['build', '--progress', 'plain', dir], { timeout: 120_000 });
      expect(r.status).not.toBe(0);
      const last = r.stderr.trim().split('\n').at(-1) as string;
      expect(last).toMatch(/^tsbuild: /);
      expect(last).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });
  }

  it('keeps the steps before a failure cached', () => {
    const dir = context('resume', 'FROM busybox:stable\nRUN echo slow > /slow\nRUN test -e /flag\n');
    expect(build(dir).status).not.toBe(0);
    writeFileSync(join(dir, 'Containerfile'), 'FROM busybox:stable\nRUN echo slow > /slow\nRUN touch /flag\n');
    const r = build(dir);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/STEP 2\/3: RUN echo slow > \/slow\n--> CACHED/);
  });
});

describe('working containers', () => {
  it('from, run in it, commit', () => {
    const from = tsbuild(root, ['from', 'busybox:stable']);
    expect(from.status).toBe(0);
    const name = from.stdout.trim();
    expect(name).toBe('busybox-working-container');
    expect(tsbuild(root, ['run', name, 'sh', '-c', 'echo kept > /kept']).status).toBe(0);
    expect(tsbuild(root, ['run', name, 'cat', '/kept']).stdout).toBe('kept\n');
    const commit = tsbuild(root, ['commit', name, 'worked:1', '-c', 'CMD ["cat", "/kept"]', '-m', 'from a working container']);
    expect(commit.status).toBe(0);
    expect(runOut('worked:1')).toBe('kept\n');
    const layers = layerPaths('worked:1');
    expect(layers).not.toContain('etc/hosts');
    expect(layers).not.toContain('etc/hostname');
    expect(tsbuild(root, ['rm', name]).status).toBe(0);
    expectOneLineError(tsbuild(root, ['commit', 'no-such-container']).stderr);
    expect(readdirSync(join(root, 'containers'))).toEqual([]);
  });
});
