// How one corpus build is spelled for each of the three tools: the flags
// (build args, bare build args, labels, secrets, target, -f), what goes on
// standard input (a Containerfile, a context tar, plain or gzip) and the
// environment the tool runs in (bare --build-arg NAME and env secrets read
// it). One place, so tsbuild, buildah and BuildKit always get the same build
// in their own spelling and a case never has to repeat itself per tool.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CaseBuild } from './corpus.js';

export interface Invocation {
  /** `build`/`bud` flags, without the tool, the tag and the extra per-tool flags. */
  flags: string[];
  /** The context argument: a directory, or `-` (stdin). */
  context: string;
  /** Bytes for stdin, when the build reads it. */
  input?: Buffer;
  /** Environment overrides (merged over the test's own). */
  env: Record<string, string>;
}

/** The flags every tool spells the same way (docker, buildah and tsbuild agree on these). */
function commonFlags(b: CaseBuild): string[] {
  return [
    ...Object.entries(b.buildArgs ?? {}).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]),
    ...(b.buildArgsBare ?? []).flatMap((k) => ['--build-arg', k]),
    ...Object.entries(b.labels ?? {}).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
    ...(b.labelsBare ?? []).flatMap((k) => ['--label', k]),
    ...(b.secrets ?? []).flatMap((s) => ['--secret', s]),
    ...(b.target ? ['--target', b.target] : []),
  ];
}

/** The context dir as a tar (GNU tar, a test-side tool: root-owned, sorted), gzipped if asked. */
function contextTar(context: string, gzip: boolean): Buffer {
  return execFileSync('tar', ['--numeric-owner', '--owner=0', '--group=0', '--sort=name', '-C', context, gzip ? '-czf' : '-cf', '-', '.'], { maxBuffer: 1 << 28 });
}

/** `b` against the prepared `context`, for any of the three tools. */
export function invocation(b: CaseBuild, context: string): Invocation {
  const flags = commonFlags(b);
  const env = b.env ?? {};
  const file = join(context, b.file ?? 'Containerfile');
  switch (b.stdin) {
    case undefined:
      return { flags: ['-f', file, ...flags], context, env };
    case 'containerfile':
      // `-f -`: the Containerfile on stdin, the context a directory.
      return { flags: ['-f', '-', ...flags], context, input: readFileSync(file), env };
    case 'containerfile-only':
      // `build - < Containerfile`: no context at all.
      return { flags, context: '-', input: readFileSync(file), env };
    case 'context-tar':
    case 'context-tar-gz':
      // `build - < context.tar`: the tool finds the Dockerfile in the tar
      // (`file`, when given, names it inside the tar).
      return { flags: [...(b.file ? ['-f', b.file] : []), ...flags], context: '-', input: contextTar(context, b.stdin === 'context-tar-gz'), env };
  }
}

/** A short description of how `b` is built, for the test's name. */
export function describeBuild(b: CaseBuild): string {
  return [
    b.stdin && `stdin ${b.stdin}`,
    b.target && `--target ${b.target}`,
    b.buildArgs && `--build-arg ${Object.keys(b.buildArgs).join(',')}`,
    b.buildArgsBare && `--build-arg ${b.buildArgsBare.join(',')} (bare)`,
    b.labelsBare && `--label ${b.labelsBare.join(',')} (bare)`,
    b.secrets && `--secret ${b.secrets.join(' ')}`,
  ].filter(Boolean).join(' ');
}
