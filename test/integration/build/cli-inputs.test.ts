// What `tsbuild build` accepts on its command line, through the real CLI, as
// docker, buildx and buildah accept it (issue 9 §4–§6, issue 10 §3):
// - stdin: `-f -` (the Containerfile), `build - < context.tar` (plain, gzip,
//   bzip2, xz, zstd; made by the real tar and compressors; its .dockerignore
//   not applied, as in BuildKit), and
//   `build - < Containerfile` (no context: COPY says so in one line);
// - hostile context tars (`../` names, an absolute symlink with a file
//   written through it, a hard link to a host file) write nothing outside,
//   and no temp dir outlives a build: success, failure, Ctrl-C, kill -9;
// - `-f` naming a directory, a path below a file, a missing file, a link
//   loop or a FIFO: one line each;
// - `--build-arg NAME` (from the environment, or left at the ARG default),
//   `--label NAME`, an undeclared build arg (a warning);
// - `--secret id=X,env=VAR` and `--secret id=X` (env X, else file X), never
//   in a layer, the config or the history.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { decompress as zstdDecompress } from 'fzstd';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxLayout, expectOneLineError, finished, sleep, tempRoot, tsbuild, tsbuildBin } from '../fixtures.js';
import { makeTar } from '../oci-fixture.js';
import { readLayout, type ImageDescription } from './oci-rootfs.js';

let root: string;
let cleanup: () => void;
let work: string;

beforeAll(() => {
  ({ root, cleanup } = tempRoot('cli-inputs'));
  const loaded = tsbuild(root, ['load', '-i', busyboxLayout]);
  if (loaded.status !== 0) throw new Error(loaded.stderr);
  work = mkdtempSync(join(tmpdir(), 'tsbuild-cli-inputs-work-'));
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  cleanup?.();
});

/** The CLI with bytes on stdin, from `cwd` (default the work dir). */
function withStdin(args: string[], input: Buffer | string, opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  return spawnSync(process.execPath, [tsbuildBin, '--root', root, ...args], {
    input, encoding: 'utf8', timeout: 120_000, cwd: opts.cwd ?? work, env: opts.env ?? process.env, maxBuffer: 1 << 26,
  });
}

/** stderr without the plain progress lines: what is left must be the one error line. */
function errorLines(stderr: string): string {
  return stderr.split('\n').filter((l) => l.trim() !== '' && !/^(STEP |--> )/.test(l)).join('\n');
}

/** A context dir with these files. */
function dirWith(name: string, files: Record<string, string>): string {
  const dir = join(work, name);
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), content);
  }
  return dir;
}

async function saved(image: string): Promise<{ layout: ImageDescription; dir: string }> {
  const dir = join(work, `save-${randomBytes(4).toString('hex')}`);
  const r = tsbuild(root, ['save', '--format', 'oci-dir', '-o', dir, image]);
  expect(r.status, r.stderr).toBe(0);
  return { layout: await readLayout(dir), dir };
}

/** What `tsbuild run --rm IMAGE cat PATH...` prints. */
function cat(image: string, ...paths: string[]): string {
  const r = tsbuild(root, ['run', '--rm', image, 'cat', ...paths]);
  expect(r.stderr).toBe('');
  return r.stdout;
}

function tmpEntries(prefix = ''): string[] {
  const dir = join(root, 'tmp');
  return existsSync(dir) ? readdirSync(dir).filter((e) => e.startsWith(prefix)) : [];
}

describe('standard input', () => {
  it('-f - reads the Containerfile from stdin and the context from the directory', () => {
    const ctx = dirWith('dash-f', { 'data.txt': 'from the dir\n' });
    const r = withStdin(['build', '--progress', 'plain', '-t', 'stdin:f', '-f', '-', ctx], 'FROM busybox:stable\nCOPY data.txt /data.txt\n');
    expect(r.status, r.stderr).toBe(0);
    expect(cat('stdin:f', '/data.txt')).toBe('from the dir\n');
    // Errors name the file as docker's users know it from stdin.
    const bad = withStdin(['build', '-f', '-', ctx], 'FROM busybox:stable\nRUNN true\n');
    expect(bad.status).not.toBe(0);
    expectOneLineError(bad.stderr);
    expect(bad.stderr).toMatch(/unknown instruction: RUNN .*\(<stdin>:2\)$/m);
  });

  it('build - < Containerfile builds without a context; COPY of a local path says there is none', () => {
    const ok = withStdin(['build', '--progress', 'plain', '-t', 'stdin:noctx', '-'], 'FROM busybox:stable\nRUN echo built > /b\nCOPY <<EOF /inline\nheredoc\nEOF\n');
    expect(ok.status, ok.stderr).toBe(0);
    expect(cat('stdin:noctx', '/b', '/inline')).toBe('built\nheredoc\n');
    const copy = withStdin(['build', '--progress', 'plain', '-'], 'FROM busybox:stable\nCOPY app.txt /app.txt\n');
    expect(copy.status).not.toBe(0);
    expectOneLineError(errorLines(copy.stderr));
    expect(errorLines(copy.stderr)).toBe('tsbuild: "/app.txt": not found: the build has no context (the Containerfile came from stdin; give a context directory or tar) (<stdin>:2)');
    expect(tmpEntries()).toEqual([]);
  });

  it('build - < context.tar takes the tar (plain, gzip, bzip2, xz, zstd) as the context', () => {
    const ctx = dirWith('tar-ctx', {
      Containerfile: 'FROM busybox:stable\nCOPY . /ctx/\nRUN cat /ctx/sub/hello.txt > /seen\n',
      'sub/hello.txt': 'hello from a tar\n',
      '.dockerignore': 'ignored.txt\n',
      'ignored.txt': 'never\n',
    });
    const plain = execFileSync('tar', ['-C', ctx, '-cf', '-', '.'], { maxBuffer: 1 << 26 });
    const variants: Array<[string, Buffer]> = [
      ['plain', plain],
      ['gzip', execFileSync('gzip', ['-c'], { input: plain })],
      ['bzip2', execFileSync('bzip2', ['-c'], { input: plain })],
      ['xz', execFileSync('xz', ['-c'], { input: plain })],
      ['zstd', execFileSync('zstd', ['-q', '-c'], { input: plain })],
    ];
    for (const [kind, bytes] of variants) {
      const r = withStdin(['build', '--progress', 'plain', '--no-cache', '-t', `stdin:${kind}`, '-'], bytes);
      expect(r.status, `${kind}: ${r.stderr}`).toBe(0);
      expect(cat(`stdin:${kind}`, '/seen', '/ctx/sub/hello.txt'), kind).toBe('hello from a tar\nhello from a tar\n');
      // docker applies .dockerignore in its client, as it tars a directory; a
      // tar on stdin goes to the builder as it is, so BuildKit copies the
      // ignored file (buildah 1.28 does not): we follow BuildKit
      // (test/fixtures/containerfiles/stdin-context-tar checks both).
      expect(cat(`stdin:${kind}`, '/ctx/ignored.txt'), `${kind}: the tar's .dockerignore does not apply`).toBe('never\n');
      expect(tmpEntries(), kind).toEqual([]);
    }
  });

  it('-f names a file inside the context tar, and cannot leave it', () => {
    const ctx = dirWith('tar-f', { 'build/app.cf': 'FROM busybox:stable\nCOPY x.txt /x.txt\n', 'x.txt': 'x\n' });
    symlinkSync('/etc/passwd', join(ctx, 'build/out.cf'));
    const tarBytes = execFileSync('tar', ['-C', ctx, '-cf', '-', '.']);
    const r = withStdin(['build', '--progress', 'plain', '-t', 'stdin:tarf', '-f', 'build/app.cf', '-'], tarBytes);
    expect(r.status, r.stderr).toBe(0);
    expect(cat('stdin:tarf', '/x.txt')).toBe('x\n');
    const none = withStdin(['build', '-'], tarBytes);
    expect(none.status).not.toBe(0);
    expect(none.stderr).toBe('tsbuild: the context tar on stdin holds no Containerfile or Dockerfile (use -f PATH-IN-TAR)\n');
    const out = withStdin(['build', '-f', 'build/out.cf', '-'], tarBytes);
    expect(out.stderr).toBe('tsbuild: the Containerfile in the context tar is a link that leaves the context (build/out.cf)\n');
    const up = withStdin(['build', '-f', '../../../../etc/passwd', '-'], tarBytes);
    expect(up.stderr).toBe('tsbuild: cannot read the Containerfile in the context tar: no such file or directory (../../../../etc/passwd)\n');
    expect(tmpEntries()).toEqual([]);
  });

  it('refuses stdin for both, a terminal-less mistake, and compressed non-tars, in one line each', () => {
    const both = withStdin(['build', '-f', '-', '-'], 'FROM busybox:stable\n');
    expect(both.status).toBe(125);
    expect(both.stderr).toBe("tsbuild: can't read both the build context and the Containerfile from stdin (- and -f -)\n");
    const gz = withStdin(['build', '-'], execFileSync('gzip', ['-c'], { input: 'FROM busybox:stable\n' }));
    expect(gz.status).not.toBe(0);
    expect(gz.stderr).toBe('tsbuild: the build context on stdin is gzip-compressed but not a tar archive\n');
    const file = join(work, 'not-a-dir');
    writeFileSync(file, 'FROM busybox:stable\n');
    const notDir = tsbuild(root, ['build', file]);
    expect(notDir.stderr).toBe(`tsbuild: the build context ${file} is not a directory (a tar goes on stdin: tsbuild build - < ${file})\n`);
    expect(tmpEntries()).toEqual([]);
  });
});

describe('hostile context tars', () => {
  let canaryDir: string;
  beforeAll(() => {
    canaryDir = mkdtempSync(join(tmpdir(), 'tsbuild-cli-canary-'));
    writeFileSync(join(canaryDir, 'keep'), 'host file\n');
  });
  afterAll(() => rmSync(canaryDir, { recursive: true, force: true }));

  const up = '../'.repeat(12);
  const containerfile = { name: 'Containerfile', data: 'FROM busybox:stable\nCOPY . /ctx/\n' };

  function outsideUntouched(): void {
    expect(readdirSync(canaryDir), 'nothing written outside').toEqual(['keep']);
    expect(readFileSync(join(canaryDir, 'keep'), 'utf8')).toBe('host file\n');
    expect(tmpEntries()).toEqual([]);
  }

  it('a ../ name is clamped into the context (plain and gzip)', async () => {
    const tarBytes = await makeTar([containerfile, { name: `${up}${canaryDir.slice(1)}/dotdot`, data: 'clamped\n' }, { name: 'ok.txt', data: 'ok\n' }]);
    for (const [kind, bytes] of [['plain', tarBytes], ['gzip', execFileSync('gzip', ['-c'], { input: tarBytes })]] as const) {
      const r = withStdin(['build', '--progress', 'plain', '-t', `hostile:${kind}`, '-'], bytes);
      expect(r.status, r.stderr).toBe(0);
      expect(cat(`hostile:${kind}`, '/ctx/ok.txt', `/ctx${canaryDir}/dotdot`)).toBe('ok\nclamped\n');
      outsideUntouched();
    }
  });

  it('a file written through an absolute symlink, or a hard link to a host file, is refused in one line', async () => {
    const viaLink = await makeTar([containerfile, { name: 'escape', type: 'symlink', linkname: canaryDir }, { name: 'escape/through-link', data: 'pwned\n' }]);
    const hard = await makeTar([containerfile, { name: 'hard', type: 'link', linkname: `${up}${canaryDir.slice(1)}/keep` }]);
    for (const [what, bytes] of [['escape/through-link', viaLink], ['hard', hard]] as const) {
      const r = withStdin(['build', '--progress', 'plain', '-'], bytes);
      expect(r.status, what).not.toBe(0);
      expectOneLineError(errorLines(r.stderr));
      expect(r.stderr).toContain(`tsbuild: the build context on stdin: ${what}: `);
      outsideUntouched();
    }
  });
});

describe('no temp dir outlives a stdin context', () => {
  function contextTar(containerfile: string): Buffer {
    const dir = dirWith(`kill-${randomBytes(4).toString('hex')}`, { Containerfile: containerfile, 'f.txt': 'f\n' });
    return execFileSync('tar', ['-C', dir, '-cf', '-', '.']);
  }

  it('after a failing step', () => {
    const r = withStdin(['build', '--progress', 'plain', '-'], contextTar('FROM busybox:stable\nCOPY f.txt /f\nRUN false\n'));
    expect(r.status).not.toBe(0);
    expect(errorLines(r.stderr)).toMatch(/^tsbuild: .*\(Containerfile:3\)$/);
    expect(tmpEntries()).toEqual([]);
  });

  for (const signal of ['SIGINT', 'SIGTERM', 'SIGKILL'] as const) {
    it(`after ${signal} during a RUN step`, async () => {
      const nonce = randomBytes(6).toString('hex');
      const child = spawn(process.execPath, [tsbuildBin, '--root', root, 'build', '--progress', 'plain', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
      const done = finished(child);
      child.stdin.end(contextTar(`FROM busybox:stable\nCOPY f.txt /f\nRUN echo ${nonce} && sleep 60\n`));
      let err = '';
      child.stderr.on('data', (d) => { err += d; });
      // The step's own output line (the STEP line names the nonce too, but not at a line's end).
      for (let i = 0; i < 1200 && !err.includes(`${nonce}\n`) && child.exitCode === null; i++) await sleep(100);
      try {
        expect(err, 'the RUN step never started').toContain(`${nonce}\n`);
        expect(tmpEntries('context-')).toHaveLength(1);
      } finally {
        child.kill(signal);
      }
      const exit = await done;
      expect(exit.signal).toBe(signal);
      if (signal !== 'SIGKILL') expect(tmpEntries('context-'), 'removed by the signal handler').toEqual([]);
      // What the next start cleans: everything a dead build left in tmp/.
      const next = withStdin(['build', '--progress', 'plain', '-'], 'FROM busybox:stable\n');
      expect(next.status, next.stderr).toBe(0);
      expect(tmpEntries()).toEqual([]);
    });
  }
});

describe('-f errors are one line', () => {
  it('a directory, a path below a file, a missing file, a link loop and a FIFO', () => {
    const ctx = dirWith('f-errors', { Containerfile: 'FROM busybox:stable\n' });
    symlinkSync('loop', join(ctx, 'loop'));
    execFileSync('mkfifo', [join(ctx, 'fifo')]);
    const cases: Array<[string, string]> = [
      [ctx, 'it is a directory'],
      [join(ctx, 'Containerfile/below'), 'a component of the path is not a directory'],
      [join(ctx, 'missing'), 'no such file or directory'],
      [join(ctx, 'loop'), 'too many levels of symbolic links'],
      [join(ctx, 'fifo'), 'it is not a regular file'],
    ];
    for (const [file, why] of cases) {
      for (const check of [[], ['--check']]) {
        const r = tsbuild(root, ['build', ...check, '-f', file, ctx]);
        expect(r.status, file).toBe(1);
        expect(r.stderr).toBe(`tsbuild: cannot read the Containerfile: ${why} (${file})\n`);
      }
    }
    const empty = join(work, 'empty-ctx');
    mkdirSync(empty, { recursive: true });
    expect(tsbuild(root, ['build', empty]).stderr).toBe(`tsbuild: no Containerfile or Dockerfile in ${empty} (use -f FILE)\n`);
  });
});

describe('loose flag forms', () => {
  it('--build-arg NAME takes the environment or leaves the default; --label NAME is empty; an undeclared arg warns', async () => {
    const ctx = dirWith('loose', {
      Containerfile: 'FROM busybox:stable\nARG FROM_ENV=default1\nARG UNSET=default2\nARG EMPTY=default3\nRUN echo "$FROM_ENV|$UNSET|$EMPTY" > /args\n',
    });
    const env = { ...process.env, FROM_ENV: 'env-value', EMPTY: '' };
    delete env.UNSET;
    const r = withStdin(['build', '--progress', 'plain', '-t', 'loose:1', '--build-arg', 'FROM_ENV', '--build-arg', 'UNSET', '--build-arg', 'EMPTY',
      '--build-arg', 'NOT_DECLARED=1', '--build-arg', 'HTTP_PROXY=http://proxy.invalid', '--label', 'bare', '--label', 'k=v', ctx], '', { env });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('warn:'))).toEqual(['warn: one or more build args were not consumed: [NOT_DECLARED]']);
    expect(cat('loose:1', '/args')).toBe('env-value|default2|\n');
    const { layout } = await saved('loose:1');
    expect(layout.config.Labels).toMatchObject({ bare: '', k: 'v' });
  });
});

describe('secrets', () => {
  function blobsMention(dir: string, needle: string): string[] {
    const hits: string[] = [];
    const blobs = join(dir, 'blobs/sha256');
    for (const b of readdirSync(blobs)) {
      let data = readFileSync(join(blobs, b));
      if (data[0] === 0x1f && data[1] === 0x8b) data = gunzipSync(data);
      else if (data.readUInt32LE(0) === 0xfd2fb528) data = Buffer.from(zstdDecompress(data));
      if (data.includes(needle)) hits.push(b);
    }
    return hits;
  }

  it('id=X,env=VAR, id=X from env X, and id=X from file X reach RUN and never the image', async () => {
    const fromEnv = `env-${randomBytes(8).toString('hex')}`;
    const fromId = `id-${randomBytes(8).toString('hex')}`;
    const fromFile = `file-${randomBytes(8).toString('hex')}`;
    const ctx = dirWith('secrets', {
      Containerfile: [
        'FROM busybox:stable',
        // Compared by hash: the RUN line itself goes into the history.
        'RUN --mount=type=secret,id=a test "$(sha256sum < /run/secrets/a)" = "$EXPECT_A  -" && echo a > /a-ok',
        'RUN --mount=type=secret,id=b,env=B_VALUE test "$(printf %s "$B_VALUE" | sha256sum)" = "$EXPECT_B  -" && echo b > /b-ok',
        'RUN --mount=type=secret,id=ctoken,required=true test "$(sha256sum < /run/secrets/ctoken)" = "$EXPECT_C  -" && echo c > /c-ok',
        '',
      ].join('\n'),
    });
    // The file secret is named by its id, relative to the working directory.
    const cwd = mkdtempSync(join(work, 'cwd-'));
    writeFileSync(join(cwd, 'ctoken'), fromFile);
    const env: NodeJS.ProcessEnv = { ...process.env, A_SOURCE: fromEnv, b: fromId };
    delete env.ctoken;
    const file = join(ctx, 'Containerfile');
    const sha = (v: string): string => createHash('sha256').update(v).digest('hex');
    writeFileSync(file, readFileSync(file, 'utf8').replace('$EXPECT_A', sha(fromEnv)).replace('$EXPECT_B', sha(fromId)).replace('$EXPECT_C', sha(fromFile)));
    const r = withStdin(['build', '--progress', 'plain', '-t', 'secrets:1', '--secret', 'id=a,env=A_SOURCE', '--secret', 'id=b', '--secret', 'id=ctoken', ctx], '', { cwd, env });
    expect(r.status, r.stderr).toBe(0);
    expect(cat('secrets:1', '/a-ok', '/b-ok', '/c-ok')).toBe('a\nb\nc\n');
    const { layout, dir } = await saved('secrets:1');
    expect([...layout.rootfs.keys()].filter((p) => p.startsWith('/run/secrets/'))).toEqual([]);
    for (const s of [fromEnv, fromId, fromFile]) expect(blobsMention(dir, s), `${s} in a blob`).toEqual([]);
    for (const v of [fromEnv, fromId, fromFile]) expect(JSON.stringify(layout.rawConfig)).not.toContain(v);
    expect(tmpEntries()).toEqual([]);

    const unset = withStdin(['build', '--secret', 'id=a,env=NOT_SET_ANYWHERE', ctx], '', { cwd });
    expect(unset.status).toBe(125);
    expect(unset.stderr).toBe('tsbuild: --secret a: the environment variable NOT_SET_ANYWHERE is not set\n');
  });
});
