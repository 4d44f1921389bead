// ARG scoping, build args, predefined ARGs, expansion per step, and the stage
// graph: FROM <stage>, COPY --from, RUN --mount from=, cycles and --target.
import { describe, expect, it } from 'vitest';
import { parseStages } from '../../../../src/build/instructions/stages.js';
import { planBuild, resolveSource } from '../../../../src/build/instructions/graph.js';
import { expandStage, type ExpandedStep } from '../../../../src/build/instructions/expand.js';
import { resolveGlobalScope, undeclaredBuildArgs, undeclaredWarning } from '../../../../src/build/instructions/args.js';
import type { Containerfile } from '../../../../src/build/instructions/stages.js';
import type { StageInstruction } from '../../../../src/build/instructions/types.js';

const file = 'Containerfile';
const lines = (...l: string[]): string => `${l.join('\n')}\n`;
const parse = (...l: string[]): Containerfile => parseStages(lines(...l), { file });

function steps(cf: Containerfile, stage = 0, buildArgs: Record<string, string> = {}, baseEnv: Record<string, string> = {}): ExpandedStep[] {
  const args = new Map(Object.entries(buildArgs));
  return expandStage(cf.stages[stage]!, {
    file, escapeToken: cf.escapeToken, buildArgs: args, globalScope: resolveGlobalScope(cf, args), baseEnv: new Map(Object.entries(baseEnv)),
  });
}
const instr = (s: ExpandedStep | undefined): StageInstruction => s?.instruction as StageInstruction;

describe('ARG scoping', () => {
  it('uses global ARGs in FROM, and in a stage only after re-declaration', () => {
    const cf = parse('ARG VERSION=3.19', 'ARG OTHER=x', 'FROM alpine:${VERSION}', 'WORKDIR /v$VERSION', 'ARG VERSION', 'WORKDIR /v$VERSION/$OTHER');
    expect(planBuild(cf).stages[0]?.base).toEqual({ kind: 'image', reference: 'docker.io/library/alpine:3.19' });
    const s = steps(cf);
    expect(instr(s[0])).toMatchObject({ path: '/v' });
    expect(instr(s[2])).toMatchObject({ path: '/v3.19/' });
    expect(s[2]?.referenced.sort()).toEqual(['OTHER', 'VERSION']);
  });

  it('lets --build-arg override global and stage defaults', () => {
    const cf = parse('ARG VERSION=3.19', 'FROM alpine:$VERSION', 'ARG VERSION', 'ARG MODE=debug', 'LABEL v=$VERSION m=$MODE');
    expect(planBuild(cf, { buildArgs: new Map([['VERSION', '3.20']]) }).stages[0]?.base).toEqual({ kind: 'image', reference: 'docker.io/library/alpine:3.20' });
    expect(instr(steps(cf, 0, { VERSION: '3.20', MODE: 'release' })[2])).toMatchObject({ labels: [{ key: 'v', value: '3.20' }, { key: 'm', value: 'release' }] });
  });

  it('expands defaults with earlier ARGs and ENVs; ENV wins over ARG', () => {
    const cf = parse('FROM a', 'ARG A=1 B=${A}2', 'ENV B=env', 'ARG C=$B', 'USER $A-$B-$C');
    const s = steps(cf);
    expect(s[0]?.args).toEqual(new Map([['A', '1'], ['B', '12']]));
    expect(instr(s[3])).toMatchObject({ user: '1-env-env' });
    expect(s[3]?.env).toEqual(new Map([['B', 'env']]));
  });

  it('lets an ARG set after an ENV of its name win, as BuildKit does; the image keeps the ENV', () => {
    const cf = parse('FROM a', 'ENV X=env', 'ARG X=arg', 'USER $X', 'ENV X=env2', 'USER $X');
    const s = steps(cf);
    expect(instr(s[2])).toMatchObject({ user: 'arg' });
    expect(s[2]?.args).toEqual(new Map([['X', 'arg']]));
    expect(s[2]?.env).toEqual(new Map([['X', 'env']]));
    // A later ENV wins again, and the ARG no longer reaches RUN.
    expect(instr(s[4])).toMatchObject({ user: 'env2' });
    expect(s[4]?.args).toEqual(new Map());
  });

  it('lets a build arg for an ARG without default override the base image ENV (BuildKit)', () => {
    const cf = parse('FROM a', 'ARG HOME', 'WORKDIR $HOME');
    expect(instr(steps(cf, 0, { HOME: '/build' }, { HOME: '/root' })[1])).toMatchObject({ path: '/build' });
    expect(instr(steps(cf, 0, {}, { HOME: '/root' })[1])).toMatchObject({ path: '/root' });
  });

  it('carries a base stage\'s ARG values into a stage built FROM it (BuildKit)', () => {
    const cf = parse('FROM a AS one', 'ARG L=local', 'FROM one', 'WORKDIR /$L', 'ARG L', 'WORKDIR /$L');
    const one = steps(cf, 0);
    const two = expandStage(cf.stages[1]!, { file, escapeToken: '\\', buildArgs: new Map(), globalScope: new Map(), baseEnv: new Map(), baseArgs: one.at(-1)?.args ?? new Map() });
    expect(instr(two[0])).toMatchObject({ path: '/local' });
    expect(instr(two[2])).toMatchObject({ path: '/local' });
    expect(two[0]?.args).toEqual(new Map([['L', 'local']]));
  });

  it('expands ENV pairs against the environment before the instruction', () => {
    const cf = parse('FROM a', 'ENV abc=hello', 'ENV abc=bye def=$abc', 'ENV ghi=$abc');
    expect(steps(cf)[2]?.env).toEqual(new Map([['abc', 'bye'], ['def', 'hello'], ['ghi', 'bye']]));
  });

  it('starts from the base image environment', () => {
    const cf = parse('FROM a', 'ENV PATH=/opt/bin:$PATH', 'WORKDIR $HOME');
    const s = steps(cf, 0, {}, { PATH: '/usr/bin', HOME: '/root' });
    expect(s[0]?.env.get('PATH')).toBe('/opt/bin:/usr/bin');
    expect(instr(s[1])).toMatchObject({ path: '/root' });
  });

  it('predefines platform ARGs globally, and in a stage after ARG', () => {
    const cf = parse('FROM --platform=$BUILDPLATFORM alpine:$TARGETARCH', 'ENV A=$TARGETARCH', 'ARG TARGETARCH TARGETOS TARGETPLATFORM', 'ENV B=$TARGETOS/$TARGETARCH C=$TARGETPLATFORM');
    expect(planBuild(cf).stages[0]).toMatchObject({ platform: 'linux/amd64', base: { reference: 'docker.io/library/alpine:amd64' } });
    const s = steps(cf);
    expect(s[0]?.env.get('A')).toBe('');
    expect(s[2]?.env).toEqual(new Map([['A', ''], ['B', 'linux/amd64'], ['C', 'linux/amd64']]));
  });

  it('does not expand RUN, CMD, ENTRYPOINT or ONBUILD', () => {
    const cf = parse('FROM a', 'ARG X=1', 'RUN echo $X', 'CMD echo $X', 'ENTRYPOINT ["$X"]', 'ONBUILD RUN echo $X');
    const s = steps(cf);
    expect(instr(s[1])).toMatchObject({ command: { args: ['echo $X'] } });
    expect(instr(s[2])).toMatchObject({ command: { args: ['echo $X'] } });
    expect(instr(s[3])).toMatchObject({ command: { args: ['$X'] } });
    expect(instr(s[4])).toMatchObject({ expression: 'RUN echo $X' });
  });

  it('splits shell-form COPY on white space before expanding, as docker does', () => {
    const cf = parse('FROM a', 'COPY "src dir" /dst/');
    expect(() => steps(cf)).toThrow(expect.objectContaining({ code: 'E_EXPAND', location: { file, line: 2 } }));
  });

  it('expands COPY/ADD paths and flags, EXPOSE, VOLUME, STOPSIGNAL and mounts', () => {
    const cf = parse(
      'FROM a', 'ARG U=app D=/srv PORTS="80 443/udp" SIG=SIGINT CACHE=/cache',
      'COPY --chown=$U:$U --chmod=0755 "$U"-src ${D}/', 'ADD --checksum=sha256:${U} x $D', 'EXPOSE $PORTS 22',
      'VOLUME $D/data', 'STOPSIGNAL $SIG', 'RUN --mount=type=cache,target=$CACHE,id=$U make',
    );
    const s = steps(cf);
    expect(instr(s[1])).toMatchObject({ chown: 'app:app', chmod: '0755', sources: ['app-src'], dest: '/srv/' });
    expect(instr(s[2])).toMatchObject({ checksum: 'sha256:app', dest: '/srv' });
    const expose = instr(s[3]);
    expect(expose.kind === 'expose' && expose.ports.map((p) => p.spec)).toEqual([
      { start: 80, end: 80, protocol: 'tcp' }, { start: 443, end: 443, protocol: 'udp' }, { start: 22, end: 22, protocol: 'tcp' },
    ]);
    expect(instr(s[4])).toMatchObject({ paths: ['/srv/data'] });
    expect(instr(s[5])).toMatchObject({ signal: 'SIGINT' });
    expect(instr(s[6])).toMatchObject({ mounts: [{ type: 'cache', target: '/cache', id: 'app' }] });
  });

  it('locates errors found only after expansion', () => {
    const cf = parse('FROM a', 'ARG P=http', 'EXPOSE 80 \\', '  $P', 'WORKDIR ${P');
    expect(() => steps(cf)).toThrow(expect.objectContaining({ code: 'E_BAD_PORT', location: { file, line: 4 } }));
    const cf2 = parse('FROM a', 'WORKDIR ${P');
    expect(() => steps(cf2)).toThrow(expect.objectContaining({ code: 'E_EXPAND', location: { file, line: 2 } }));
  });
});

describe('build args', () => {
  it('lists build args no ARG declares (a warning, not an error), never predefined ones', () => {
    const cf = parse('ARG G', 'FROM a', 'ARG S');
    expect(undeclaredBuildArgs(cf, new Map([['G', '1'], ['S', '2'], ['HTTP_PROXY', 'p'], ['no_proxy', 'x'], ['TARGETARCH', 'amd64']]))).toEqual([]);
    const plan = planBuild(cf, { buildArgs: new Map([['NOPE', '1'], ['G', '2'], ['ALSO', '']]) });
    expect(plan.undeclaredArgs).toEqual(['NOPE', 'ALSO']);
    expect(undeclaredWarning(plan.undeclaredArgs)).toBe('one or more build args were not consumed: [NOPE ALSO]');
    expect(plan.globalScope.get('G')).toBe('2');
  });

  it('errors when FROM expands to nothing', () => {
    expect(() => planBuild(parse('ARG BASE', 'FROM $BASE'))).toThrow(expect.objectContaining({ code: 'E_MISSING_ARG', location: { file, line: 2 } }));
  });
});

describe('stage graph', () => {
  const multi = parse(
    'FROM golang AS Build',                             // 0
    'RUN make',
    'FROM alpine AS assets',                            // 1
    'RUN --mount=type=bind,from=build,target=/b true',
    'FROM build AS test',                               // 2
    'RUN go test',
    'FROM scratch AS final',                            // 3
    'COPY --from=BUILD /out /app',
    'COPY --from=1 /x /y',
    'COPY --from=docker.io/library/busybox:1.36 /bin/busybox /bin/',
  );

  it('resolves bases and dependencies', () => {
    const plan = planBuild(multi);
    expect(plan.target).toBe(3);
    expect(plan.stages.map((s) => [s.index, s.name, s.base, s.dependsOn])).toEqual([
      [0, 'build', { kind: 'image', reference: 'docker.io/library/golang:latest' }, []],
      [1, 'assets', { kind: 'image', reference: 'docker.io/library/alpine:latest' }, [0]],
      [3, 'final', { kind: 'scratch' }, [0, 1]],
    ]);
  });

  it('prunes to the stages a --target needs (case-insensitively)', () => {
    expect(planBuild(multi, { target: 'TEST' }).stages.map((s) => [s.index, s.dependsOn])).toEqual([[0, []], [2, [0]]]);
    expect(planBuild(multi, { target: 'assets' }).stages.map((s) => s.index)).toEqual([0, 1]);
    expect(planBuild(multi, { target: 'build' }).stages.map((s) => s.index)).toEqual([0]);
  });

  it('reports an unknown target with the stage names', () => {
    expect(() => planBuild(multi, { target: 'prod' })).toThrow(
      expect.objectContaining({ code: 'E_UNKNOWN_STAGE', message: 'target stage "prod" could not be found (stages: build, assets, test, final)' }),
    );
  });

  it('treats an unknown --from name as an image, which must be a valid reference', () => {
    expect(resolveSource('nosuchstage', multi.stages)).toEqual({ kind: 'image', reference: 'docker.io/library/nosuchstage:latest' });
    expect(() => planBuild(parse('FROM a', 'COPY --from=Not/Valid:: /x /y'))).toThrow(expect.objectContaining({ code: 'E_BAD_REFERENCE', location: { file, line: 2 } }));
    expect(() => planBuild(parse('FROM a', 'COPY --from=5 /x /y'))).toThrow(expect.objectContaining({ code: 'E_UNKNOWN_STAGE', location: { file, line: 2 } }));
  });

  it('resolves --from through ARGs', () => {
    const plan = planBuild(parse('FROM a AS one', 'FROM b', 'ARG SRC=one', 'COPY --from=$SRC /x /y'));
    expect(plan.stages.map((s) => s.dependsOn)).toEqual([[], [0]]);
  });

  it('only lets FROM name an earlier stage', () => {
    const cf = parse('FROM later AS first', 'FROM alpine AS later', 'FROM first');
    expect(planBuild(cf, { target: 'first' }).stages.map((s) => s.base)).toEqual([{ kind: 'image', reference: 'docker.io/library/later:latest' }]);
    expect(planBuild(cf).stages.map((s) => s.index)).toEqual([0, 2]);
  });

  it('detects cycles, including a stage copying from itself', () => {
    expect(() => planBuild(parse('FROM busybox AS stage0', 'COPY --from=stage0 f1 /sub/'))).toThrow(expect.objectContaining({ code: 'E_STAGE_CYCLE', location: { file, line: 1 } }));
    expect(() => planBuild(parse('FROM busybox AS s0', 'COPY --from=s2 f /', 'FROM busybox AS s1', 'COPY --from=s0 f /', 'FROM busybox AS s2', 'COPY --from=s1 f /'))).toThrow(
      expect.objectContaining({ code: 'E_STAGE_CYCLE' }),
    );
  });

  it('gives base-stage ENV to the child stage when resolving --from', () => {
    const plan = planBuild(parse('FROM a AS src', 'FROM a AS base', 'ENV FROM_STAGE=src', 'FROM base', 'COPY --from=$FROM_STAGE /x /y'));
    expect(plan.stages.at(-1)?.dependsOn).toEqual([0, 1]);
  });
  it('lists the images each needed stage names, with their lines, for resolution before the build', () => {
    const cf = parse(
      'ARG BASE=alpine:3.19',
      'FROM ${BASE} AS one',
      'COPY --from=busybox:stable /bin/sh /sh',
      'FROM one AS two',
      'RUN --mount=type=bind,from=golang:1.22,target=/go --mount=type=cache,from=one,target=/c true',
      'COPY --from=$LATER /x /x',
      'FROM debian:12 AS unused',
    );
    const plan = planBuild(cf, { target: 'two' });
    expect(plan.stages.map((s) => s.images)).toEqual([
      [{ reference: 'docker.io/library/alpine:3.19', line: 2 }, { reference: 'docker.io/library/busybox:stable', line: 3 }],
      // Stage one is a stage, not an image; $LATER is only known while building.
      [{ reference: 'docker.io/library/golang:1.22', line: 5 }],
    ]);
    expect(planBuild(cf).stages.at(-1)?.images).toEqual([{ reference: 'docker.io/library/debian:12', line: 7 }]);
  });
});
