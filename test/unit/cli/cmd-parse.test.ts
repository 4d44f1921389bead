// `tsbuild parse` through the real CLI, as a user runs it: broken files give
// one line `tsbuild: <what> (<file>:<line>)` on stderr, a non-zero exit and
// no stack trace; valid files give exit 0 and silence (or JSON).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repoRoot = resolve(import.meta.dirname, '../../..');
// A bundle of our own, beside dist/bundle (as deep, so the paths it computes hold), with a copy
// of bin/tsbuild.js that runs it: rebuilding dist/bundle itself could pull chunks from under an
// integration test that runs the CLI at the same time.
const bundleDir = join(repoRoot, 'dist', `bundle-parse-test-${process.pid}`);
// .cjs: bin/tsbuild.js is CommonJS by bin/package.json, which the copy's dir does not have.
const bin = join(bundleDir, 'bin.cjs');
let dir = '';

beforeAll(() => {
  // Emit dist/ and bundle it, so the test runs this checkout's code and not
  // whatever bundle an earlier npm ci left. Emit even if someone else's work
  // in progress has type errors; only our own modules need to load.
  spawnSync(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--noEmitOnError', 'false'], { cwd: repoRoot, encoding: 'utf8' });
  const bundled = spawnSync(process.execPath, [join(repoRoot, 'scripts/bundle.mjs'), relative(repoRoot, bundleDir)], { cwd: repoRoot, encoding: 'utf8' });
  if (bundled.status !== 0) throw new Error(`scripts/bundle.mjs failed: ${bundled.stderr}`);
  const entry = readFileSync(join(repoRoot, 'bin/tsbuild.js'), 'utf8');
  if (!entry.includes("'../dist/bundle/tsbuild.cjs'")) throw new Error('bin/tsbuild.js no longer runs ../dist/bundle/tsbuild.cjs: update this test');
  writeFileSync(bin, entry.replace("'../dist/bundle/tsbuild.cjs'", "'tsbuild.cjs'"));
  dir = mkdtempSync(join(tmpdir(), 'tsbuild-parse-'));
}, 180_000);

afterAll(() => {
  rmSync(bundleDir, { recursive: true, force: true });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function tsbuild(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function parseFile(name: string, content: string, extra: string[] = []) {
  writeFileSync(join(dir, name), content);
  return tsbuild(['parse', '-f', name, ...extra]);
}

const broken: Array<[string, string, number, RegExp]> = [
  ['from-without-image', 'FROM\nRUN true\n', 1, /FROM requires a base image/],
  ['misspelt-instruction', 'FROM alpine\nRUN true\nRUNN echo hi\n', 3, /unknown instruction: RUNN \(did you mean RUN\?\)/],
  ['copy-one-argument', 'FROM alpine\n\nCOPY app.tar\n', 3, /COPY requires at least two arguments/],
  ['env-without-value', 'FROM alpine\nENV KEY\n', 2, /ENV KEY has no value/],
  ['instruction-before-from', '# comment\nARG V=1\nRUN echo hi\nFROM alpine\n', 3, /RUN comes before the first FROM/],
  ['unterminated-heredoc', 'FROM alpine\nRUN <<EOF\necho one\necho two\n', 2, /unterminated heredoc/],
  ['empty-file', '', 1, /no instructions/],
  ['from-as-without-name', 'FROM alpine AS\n', 1, /requires a stage name after AS/],
  ['duplicate-stage', 'FROM alpine AS build\nFROM busybox AS other\nFROM alpine AS BUILD\n', 3, /duplicate stage name "build"/],
  ['unknown-flag', 'FROM alpine\nCOPY --form=build /a /b\n', 2, /unknown flag for COPY: --form \(did you mean --from\?\)/],
  ['bad-port-after-continuation', 'FROM alpine\nEXPOSE 80 \\\n    443 \\\n    80800/tcp\n', 4, /invalid port "80800\/tcp"/],
  ['bad-from-reference', 'FROM alpine\nCOPY --from=Not::A/Ref /a /b\n', 2, /invalid reference/],
  ['nested-json', 'FROM alpine\nCMD ["echo", ["x"]]\n', 2, /strings only/],
  ['bad-escape-directive', '# escape=x\nFROM alpine\n', 1, /invalid escape token/],
];

describe('tsbuild parse on broken files', () => {
  it.each(broken)('%s', (name, content, line, message) => {
    const r = parseFile(name, content);
    expect(r.status).not.toBe(0);
    expect(r.stdout).toBe('');
    const stderrLines = r.stderr.split('\n').filter((l) => l !== '');
    expect(stderrLines).toHaveLength(1);
    expect(stderrLines[0]).toMatch(new RegExp(`^tsbuild: .+ \\(${name}:${line}\\)$`));
    expect(stderrLines[0]).toMatch(message);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });
});

describe('tsbuild parse on valid files', () => {
  const valid = [
    'ARG BASE=alpine:3.19',
    'FROM ${BASE} AS build',
    'RUN --mount=type=cache,target=/root/.cache <<EOF',
    'echo building',
    'EOF',
    'FROM scratch',
    '# nosuchstage is an image reference here; the build engine turns a failed pull into an error located at this line',
    'COPY --from=nosuchstage /x /y',
    'COPY --from=build /out /app',
    'EXPOSE 8080/tcp',
    '',
  ].join('\n');

  it('prints nothing and exits 0', () => {
    const r = parseFile('Valid', valid);
    expect(r).toEqual({ status: 0, stdout: '', stderr: '' });
  });

  it('prints the needed stages as JSON with --format json', () => {
    const r = parseFile('Valid', valid, ['--format', 'json', '--build-arg', 'BASE=busybox']);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.stages.map((s: { name: string | null; base: unknown; dependsOn: number[] }) => [s.name, s.base, s.dependsOn])).toEqual([
      ['build', { kind: 'image', reference: 'docker.io/library/busybox:latest' }, []],
      [null, { kind: 'scratch' }, [0]],
    ]);
    expect(out.stages[0].instructions[0]).toMatchObject({ kind: 'run', line: 3, endLine: 5, heredocs: [{ name: 'EOF', content: 'echo building\n' }] });
  });

  it('honours --target and rejects an unknown one', () => {
    const ok = parseFile('Valid', valid, ['--target', 'BUILD', '--format', 'json']);
    expect(JSON.parse(ok.stdout).stages.map((s: { index: number }) => s.index)).toEqual([0]);
    const bad = parseFile('Valid', valid, ['--target', 'prod']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toBe('tsbuild: target stage "prod" could not be found (stages: build) (Valid)\n');
  });

  it('warns about a build arg no ARG declares, and passes (docker, BuildKit and buildah do)', () => {
    const r = parseFile('Valid', valid, ['--build-arg', 'NOPE=1', '--build-arg', 'HTTP_PROXY=http://p']);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('warn: one or more build args were not consumed: [NOPE]\n');
    expect(tsbuild(['--log-level', 'error', 'parse', '-f', 'Valid', '--build-arg', 'NOPE=1']).stderr).toBe('');
  });

  it('finds CONTEXT/Containerfile, then CONTEXT/Dockerfile', () => {
    mkdirSync(join(dir, 'ctx1'));
    writeFileSync(join(dir, 'ctx1/Dockerfile'), 'FROM alpine\nRUNN x\n');
    expect(tsbuild(['parse', 'ctx1']).stderr).toBe('tsbuild: unknown instruction: RUNN (did you mean RUN?) (ctx1/Dockerfile:2)\n');
    writeFileSync(join(dir, 'ctx1/Containerfile'), 'FROM alpine\nCPY x y\n');
    expect(tsbuild(['parse', 'ctx1']).stderr).toBe('tsbuild: unknown instruction: CPY (did you mean COPY?) (ctx1/Containerfile:2)\n');
    const none = tsbuild(['parse', 'no-such-dir']);
    expect(none.status).not.toBe(0);
    expect(none.stderr).toMatch(/^tsbuild: no Containerfile or Dockerfile in no-such-dir/);
  });

  it('prints usage with --help', () => {
    const r = tsbuild(['parse', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: tsbuild parse \[-f FILE\]/);
  });
});
