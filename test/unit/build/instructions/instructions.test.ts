// The instruction stage: every instruction's typed form, its flags and its
// errors (each with a code and the right line).
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseStages } from '../../../../src/build/instructions/stages.js';
import type { StageInstruction } from '../../../../src/build/instructions/types.js';

const file = 'Containerfile';
const lines = (...l: string[]): string => `${l.join('\n')}\n`;

/** The typed instructions of a one-stage file made of `FROM scratch` plus `body`. */
function typed(...body: string[]): StageInstruction[] {
  return parseStages(lines('FROM scratch', ...body), { file }).stages[0]?.instructions ?? [];
}
function one(...body: string[]): StageInstruction {
  return typed(...body)[0] as StageInstruction;
}
function failure(source: string, code: string, line: number, message?: RegExp): void {
  let caught: unknown;
  try {
    parseStages(source, { file });
  } catch (err) {
    caught = err;
  }
  expect(caught).toMatchObject({ code, location: { file, line } });
  if (message) expect((caught as Error).message).toMatch(message);
}

describe('conformance files through the instruction stage', () => {
  const dir = resolve(import.meta.dirname, '../../../..', '../shared/conformance/buildkit/parser/testfiles');
  const withFrom = readdirSync(dir).filter((n) => /^\s*FROM/im.test(readFileSync(resolve(dir, n, 'Dockerfile'), 'utf8')));
  it.each(withFrom.filter((n) => n !== 'flags' && n !== 'health'))('%s types cleanly', (name) => {
    const cf = parseStages(readFileSync(resolve(dir, name, 'Dockerfile'), 'utf8'), { file });
    expect(cf.stages.length).toBeGreaterThan(0);
  });
  it('health: a bare HEALTHCHECK is refused, as docker does', () => {
    failure(readFileSync(resolve(dir, 'health/Dockerfile'), 'utf8'), 'E_MISSING_ARG', 4, /HEALTHCHECK/);
  });
  it('flags: the made-up COPY flags are unknown flags', () => {
    failure(readFileSync(resolve(dir, 'flags/Dockerfile'), 'utf8'), 'E_UNKNOWN_FLAG', 3, /--user/);
  });
});

describe('FROM', () => {
  it('parses platform, image and a lower-cased stage name', () => {
    const cf = parseStages(lines('FROM --platform=$BUILDPLATFORM golang:1.22 AS Build'), { file });
    expect(cf.stages[0]?.from).toMatchObject({ kind: 'from', image: 'golang:1.22', stageName: 'build', platform: '$BUILDPLATFORM', line: 1 });
    expect(cf.stages[0]?.name).toBe('build');
  });
  it('rejects missing images, missing names and bad names', () => {
    failure(lines('FROM'), 'E_MISSING_ARG', 1);
    failure(lines('FROM alpine AS'), 'E_MISSING_ARG', 1, /stage name/);
    failure(lines('FROM alpine AS 1st'), 'E_BAD_STAGE_NAME', 1);
    failure(lines('FROM alpine AS a b'), 'E_PARSE', 1);
    failure(lines('FROM alpine', 'FROM alpine AS x', 'FROM busybox AS X'), 'E_DUPLICATE_STAGE', 3, /line 2/);
  });
});

describe('RUN', () => {
  it('keeps shell and exec forms apart', () => {
    expect(one('RUN echo $HOME && ls')).toMatchObject({ kind: 'run', command: { form: 'shell', args: ['echo $HOME && ls'] } });
    expect(one('RUN ["ls", "-la"]')).toMatchObject({ command: { form: 'exec', args: ['ls', '-la'] } });
    expect(one("RUN ['ls']")).toMatchObject({ command: { form: 'shell', args: ["['ls']"] } });
  });
  it('parses mounts into typed objects', () => {
    const run = one(
      'RUN --mount=type=cache,target=/root/.cache,id=pip,sharing=locked,mode=0755,uid=1000,gid=1000 \\',
      '    --mount=type=bind,from=build,source=/out,dst=/in,rw \\',
      '    --mount=type=tmpfs,destination=/tmp,size=64m \\',
      '    --mount=type=secret,id=token,required \\',
      '    --network=none --security=insecure make',
    );
    expect(run).toMatchObject({ kind: 'run', network: 'none', security: 'insecure', command: { args: ['make'] } });
    if (run.kind !== 'run') throw new Error('not run');
    expect(run.mounts.map(({ spec: _spec, ...m }) => m)).toEqual([
      { type: 'cache', target: '/root/.cache', source: null, from: null, id: 'pip', sharing: 'locked', mode: 0o755, uid: 1000, gid: 1000, readonly: false, required: false, size: null, env: null, chownToUser: false, copyUp: false },
      { type: 'bind', target: '/in', source: '/out', from: 'build', id: null, sharing: null, mode: null, uid: null, gid: null, readonly: false, required: false, size: null, env: null, chownToUser: false, copyUp: false },
      { type: 'tmpfs', target: '/tmp', source: null, from: null, id: null, sharing: null, mode: null, uid: null, gid: null, readonly: false, required: false, size: 64 * 1024 * 1024, env: null, chownToUser: false, copyUp: false },
      { type: 'secret', target: null, source: null, from: null, id: 'token', sharing: null, mode: null, uid: null, gid: null, readonly: true, required: true, size: null, env: null, chownToUser: false, copyUp: false },
    ]);
  });
  it("accepts buildah's z, Z, U and tmpcopyup mount flags", () => {
    const run = one(
      'RUN --mount=type=cache,target=/c,z,U \\',
      '    --mount=type=bind,source=.,target=/src,Z,relabel=private,U=true \\',
      '    --mount=type=tmpfs,target=/etc,tmpcopyup \\',
      '    --mount=type=tmpfs,target=/t,tmpcopyup,notmpcopyup,U=false true',
    );
    if (run.kind !== 'run') throw new Error('not run');
    expect(run.mounts.map((m) => [m.type, m.chownToUser, m.copyUp])).toEqual([
      ['cache', true, false], ['bind', true, false], ['tmpfs', false, true], ['tmpfs', false, false],
    ]);
    // Case matters for the bare flags, as in buildah: `u` is no flag.
    failure(lines('FROM a', 'RUN --mount=type=cache,target=/c,u true'), 'E_BAD_MOUNT', 2, /key=value/);
    failure(lines('FROM a', 'RUN --mount=type=cache,target=/c,tmpcopyup true'), 'E_BAD_MOUNT', 2, /tmpcopyup is only for tmpfs/);
    failure(lines('FROM a', 'RUN --mount=type=secret,id=s,U true'), 'E_BAD_MOUNT', 2, /U is only for bind, cache and tmpfs/);
    failure(lines('FROM a', 'RUN --mount=type=bind,target=/x,relabel=maybe true'), 'E_BAD_MOUNT', 2, /relabel/);
    failure(lines('FROM a', 'RUN --mount=type=bind,target=/x,U=perhaps true'), 'E_BAD_MOUNT', 2, /true or false/);
  });
  it('rejects bad mounts and flags', () => {
    failure(lines('FROM a', 'RUN --mount=type=cahce,target=/c true'), 'E_BAD_MOUNT', 2, /did you mean cache/);
    failure(lines('FROM a', 'RUN --mount=type=bind,sharing=locked,target=/x true'), 'E_BAD_MOUNT', 2);
    failure(lines('FROM a', 'RUN --mount=type=cache true'), 'E_BAD_MOUNT', 2, /target/);
    failure(lines('FROM a', 'RUN --mount=type=cache,target=/c,colour=red true'), 'E_BAD_MOUNT', 2);
    failure(lines('FROM a', 'RUN --mount=type=bind,from=$X,target=/x true'), 'E_BAD_MOUNT', 2, /alias stage/);
    failure(lines('FROM a', 'RUN --network=bridge true'), 'E_BAD_FLAG', 2);
    failure(lines('FROM a', 'RUN --securty=insecure true'), 'E_UNKNOWN_FLAG', 2, /did you mean --security/);
    failure(lines('FROM a', 'RUN --mount=type=cache,target=/c'), 'E_MISSING_ARG', 2);
  });
});

describe('COPY and ADD', () => {
  it('parses COPY flags and sources', () => {
    expect(one('COPY --from=build --chown=1000:1000 --chmod=0644 --link --parents --exclude=*.md --exclude=.git a b /dst/')).toMatchObject({
      kind: 'copy', from: 'build', chown: '1000:1000', chmod: '0644', link: true, parents: true, exclude: ['*.md', '.git'],
      sources: ['a', 'b'], dest: '/dst/', json: false,
    });
    expect(one('COPY ["my file", "/dst dir/"]')).toMatchObject({ sources: ['my file'], dest: '/dst dir/', json: true, link: false });
  });
  it('parses ADD flags', () => {
    expect(one('ADD --checksum=sha256:abc --keep-git-dir=true --link=false --chown=app https://x/y.tgz /opt/')).toMatchObject({
      kind: 'add', checksum: 'sha256:abc', keepGitDir: true, link: false, chown: 'app', sources: ['https://x/y.tgz'], dest: '/opt/',
    });
  });
  it('rejects a missing destination and flags of the other instruction', () => {
    failure(lines('FROM a', 'COPY onlyone'), 'E_MISSING_ARG', 2, /only "onlyone"/);
    failure(lines('FROM a', 'ADD --from=x a /b'), 'E_UNKNOWN_FLAG', 2);
    failure(lines('FROM a', 'COPY --chwon=1 a /b'), 'E_UNKNOWN_FLAG', 2, /did you mean --chown/);
    failure(lines('FROM a', 'COPY --from a /b'), 'E_BAD_FLAG', 2, /missing a value/);
    failure(lines('FROM a', 'COPY --link=maybe a /b'), 'E_BAD_FLAG', 2);
    failure(lines('FROM a', 'COPY --from=a --from=b a /b'), 'E_BAD_FLAG', 2, /duplicate/);
  });
});

describe('configuration instructions', () => {
  it('parses ENV and LABEL in both forms, keeping raw values', () => {
    expect(one('ENV A=1 B="two words" C=three\\ four')).toMatchObject({ kind: 'env', env: [{ key: 'A', value: '1' }, { key: 'B', value: '"two words"' }, { key: 'C', value: 'three\\ four' }] });
    expect(one('ENV PATH /usr/bin:$PATH')).toMatchObject({ env: [{ key: 'PATH', value: '/usr/bin:$PATH' }] });
    expect(one('LABEL org.opencontainers.image.title="app" version=1')).toMatchObject({ kind: 'label', labels: [{ key: 'org.opencontainers.image.title', value: '"app"' }, { key: 'version', value: '1' }] });
  });
  it('parses several ARGs per line with defaults', () => {
    expect(one('ARG A B=2 C="x y"')).toMatchObject({ kind: 'arg', args: [{ name: 'A', defaultValue: null }, { name: 'B', defaultValue: '2' }, { name: 'C', defaultValue: '"x y"' }] });
  });
  it('parses CMD, ENTRYPOINT, SHELL, USER, WORKDIR, VOLUME, STOPSIGNAL, MAINTAINER', () => {
    expect(typed('CMD ["a", "b"]', 'CMD echo hi', 'ENTRYPOINT []', 'SHELL ["/bin/bash", "-c"]', 'USER app:app', 'WORKDIR /srv/app', 'VOLUME /a /b', 'VOLUME ["/c"]', 'STOPSIGNAL SIGQUIT', 'MAINTAINER me')).toMatchObject([
      { kind: 'cmd', command: { form: 'exec', args: ['a', 'b'] } },
      { kind: 'cmd', command: { form: 'shell', args: ['echo hi'] } },
      { kind: 'entrypoint', command: { form: 'exec', args: [] } },
      { kind: 'shell', shell: ['/bin/bash', '-c'] },
      { kind: 'user', user: 'app:app' },
      { kind: 'workdir', path: '/srv/app' },
      { kind: 'volume', paths: ['/a', '/b'] },
      { kind: 'volume', paths: ['/c'] },
      { kind: 'stopsignal', signal: 'SIGQUIT' },
      { kind: 'maintainer', maintainer: 'me' },
    ]);
  });
  it('rejects the broken forms', () => {
    failure(lines('FROM a', 'ENV KEY'), 'E_MISSING_ARG', 2);
    failure(lines('FROM a', 'ENV A=1 B'), 'E_PARSE', 2, /can't find =/);
    failure(lines('FROM a', 'ENV =x'), 'E_PARSE', 2, /blank/);
    failure(lines('FROM a', 'SHELL /bin/sh -c'), 'E_NOT_JSON', 2);
    failure(lines('FROM a', 'WORKDIR'), 'E_MISSING_ARG', 2);
    failure(lines('FROM a', 'STOPSIGNAL SIGTRM'), 'E_BAD_SIGNAL', 2, /did you mean SIGTERM/);
    failure(lines('FROM a', 'ENV --foo A=1'), 'E_UNKNOWN_FLAG', 2, /takes no flags/);
    failure(lines('FROM a', 'ARG =x'), 'E_PARSE', 2);
  });
});

describe('EXPOSE', () => {
  it('parses ports, protocols and ranges', () => {
    const expose = one('EXPOSE 80 80/tcp 53/UDP 8000-8010 132/sctp 8080:80 $PORT');
    if (expose.kind !== 'expose') throw new Error('not expose');
    expect(expose.ports.map((p) => p.spec)).toEqual([
      { start: 80, end: 80, protocol: 'tcp' }, { start: 80, end: 80, protocol: 'tcp' }, { start: 53, end: 53, protocol: 'udp' },
      { start: 8000, end: 8010, protocol: 'tcp' }, { start: 132, end: 132, protocol: 'sctp' }, { start: 80, end: 80, protocol: 'tcp' }, null,
    ]);
  });
  it.each(['http', '80/icmp', '70000', '90-80', '-1', '80/', '1-2-3', '1:2:3:4'])('rejects %j', (port) => {
    failure(lines('FROM a', `EXPOSE 22 ${port}`), 'E_BAD_PORT', 2, /invalid port/);
  });
  it('requires at least one port', () => {
    failure(lines('FROM a', 'EXPOSE'), 'E_MISSING_ARG', 2);
  });
  it('reports a bad port on the physical line where it is written', () => {
    failure(lines('FROM a', 'EXPOSE 80 \\', '  443 \\', '  # a comment', '  8o80/tcp'), 'E_BAD_PORT', 5, /8o80/);
  });
});

describe('HEALTHCHECK', () => {
  it('parses CMD with durations in nanoseconds, and NONE', () => {
    expect(one('HEALTHCHECK --interval=30s --timeout=1m30s --start-period=500ms --start-interval=2s --retries=3 CMD curl -f http://localhost/')).toMatchObject({
      kind: 'healthcheck', test: { type: 'cmd', command: { form: 'shell', args: ['curl -f http://localhost/'] } },
      interval: 30e9, timeout: 90e9, startPeriod: 500e6, startInterval: 2e9, retries: 3,
    });
    expect(one('HEALTHCHECK CMD ["/bin/check"]')).toMatchObject({ test: { type: 'cmd', command: { form: 'exec', args: ['/bin/check'] } }, interval: null });
    expect(one('HEALTHCHECK NONE')).toMatchObject({ test: { type: 'none' } });
  });
  it('rejects bad health checks', () => {
    failure(lines('FROM a', 'HEALTHCHECK'), 'E_MISSING_ARG', 2);
    failure(lines('FROM a', 'HEALTHCHECK CMD'), 'E_MISSING_ARG', 2);
    failure(lines('FROM a', 'HEALTHCHECK NONE x'), 'E_EXTRA_ARG', 2);
    failure(lines('FROM a', 'HEALTHCHECK CONNECT TCP 7000'), 'E_PARSE', 2);
    failure(lines('FROM a', 'HEALTHCHECK --interval=5 CMD true'), 'E_BAD_FLAG', 2, /duration/);
    failure(lines('FROM a', 'HEALTHCHECK --interval=1us CMD true'), 'E_BAD_FLAG', 2, /1ms/);
    failure(lines('FROM a', 'HEALTHCHECK --retries=-1 CMD true'), 'E_BAD_FLAG', 2);
  });
});

describe('ONBUILD and unknown instructions', () => {
  it('parses the trigger as a nested instruction', () => {
    expect(one('ONBUILD COPY --chown=app . /src')).toMatchObject({ kind: 'onbuild', expression: 'COPY --chown=app . /src', trigger: { kind: 'copy', chown: 'app', sources: ['.'], dest: '/src' } });
  });
  it('refuses ONBUILD ONBUILD, ONBUILD FROM and bad triggers', () => {
    failure(lines('FROM a', 'ONBUILD ONBUILD RUN x'), 'E_BAD_ONBUILD', 2);
    failure(lines('FROM a', 'ONBUILD FROM b'), 'E_BAD_ONBUILD', 2);
    failure(lines('FROM a', 'ONBUILD'), 'E_MISSING_ARG', 2);
    failure(lines('FROM a', 'ONBUILD RUNN x'), 'E_UNKNOWN_INSTRUCTION', 2, /did you mean RUN/);
  });
  it.each([['RUNN', 'RUN'], ['FORM', 'FROM'], ['CPY', 'COPY'], ['entrypont', 'ENTRYPOINT'], ['WORKDIRR', 'WORKDIR']])('suggests for %s', (typo, fix) => {
    failure(lines('FROM a', `${typo} x`), 'E_UNKNOWN_INSTRUCTION', 2, new RegExp(`unknown instruction: ${typo.toUpperCase()} \\(did you mean ${fix}\\?\\)`));
  });
  it('makes no suggestion for something unrelated', () => {
    failure(lines('FROM a', 'XYZZY x'), 'E_UNKNOWN_INSTRUCTION', 2, /^unknown instruction: XYZZY$/);
  });
  it('requires FROM before anything but ARG', () => {
    failure(lines('ARG X=1', 'ENV A=1', 'FROM a'), 'E_NO_FROM', 2, /ENV comes before the first FROM/);
    failure(lines('ARG X=1'), 'E_NO_FROM', 1);
  });
});
