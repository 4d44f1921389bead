// The differential corpus: test/fixtures/containerfiles/<case>/ holds a
// Containerfile (or several), its build context and a case.json saying what
// to build and how to finish the context. Git keeps neither hard links,
// special modes nor owners, so those are made here, in a copy of the case
// dir, by the `setup` ops; the copy is what both tools build from.
// Shared by the unit corpus test and the differential test, hence test/shared/: listing and spelling
// cases needs no root (prepareContext, which chowns, runs only in the integration test).
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
// The repository root: corpus files live in test/fixtures/containerfiles.
const repoDir = resolve(import.meta.dirname, '../..');

export const corpusDir = join(repoDir, 'test/fixtures/containerfiles');

export type SetupOp =
  | { op: 'hardlink'; from: string; to: string }
  | { op: 'mkdir'; path: string }
  | { op: 'chmod'; path: string; mode: string }
  | { op: 'chown'; path: string; uid: number; gid: number }
  | { op: 'write'; path: string; content: string }
  /** `count` small files f0..f{count-1} in `dir`. */
  | { op: 'manyFiles'; dir: string; count: number }
  /** GNU tar of `dir`'s contents (test-side tool, never the product's), owned by `owner` (uid:gid). */
  | { op: 'tar'; dir: string; out: string; gzip: boolean; owner: string };

export interface CaseBuild {
  tag: string;
  /** Relative to the case dir; default Containerfile. */
  file?: string;
  buildArgs?: Record<string, string>;
  target?: string;
  /** buildah's image format for this build (default OCI). */
  buildahFormat?: 'oci' | 'docker';
  /** Extra `buildah bud` flags that make buildah behave as docker does. */
  buildahArgs?: string[];
  /** Why the build needs buildahFormat/buildahArgs. */
  why?: string;
  buildahQuirks?: BuildahQuirk[];
  buildahConfigQuirks?: BuildahConfigQuirk[];
  /** Extra `docker build` flags for the BuildKit lane (rarely needed: BuildKit is docker). */
  buildkitArgs?: string[];
  /** Where BuildKit 20.10 (an old BuildKit) does what docker users would not expect; as buildahQuirks. */
  buildkitQuirks?: OracleQuirk[];
  buildkitConfigQuirks?: OracleConfigQuirk[];
  /**
   * What the build reads on stdin: `containerfile` is `-f -` with the case
   * dir as context; `containerfile-only` is `build - < Containerfile` (no
   * context); `context-tar`/`context-tar-gz` is `build - < context.tar`, the
   * case dir tarred (the Dockerfile in it, or `file` inside the tar).
   */
  stdin?: 'containerfile' | 'containerfile-only' | 'context-tar' | 'context-tar-gz';
  /** Environment of all three tools (bare build args and env secrets read it). */
  env?: Record<string, string>;
  /** `--build-arg NAME` without a value: from the environment, or left at the ARG default when unset. */
  buildArgsBare?: string[];
  labels?: Record<string, string>;
  /** `--label NAME`: a label with an empty value. */
  labelsBare?: string[];
  /** `--secret SPEC` for every tool, e.g. `id=tok,env=VAR` or `id=tok`. */
  secrets?: string[];
  /**
   * The build must fail in all three tools (no image is compared): tsbuild
   * with one `tsbuild: ...` line matching `error` (a regex; it should name
   * the Containerfile line), the oracles with a non-zero exit.
   */
  fails?: { error: string; why: string };
  /**
   * An oracle that lacks the feature the build exercises: its lane is not
   * compared. The oracle must still fail the build (so an oracle that gains
   * the feature is noticed); never a way to hide a difference.
   */
  buildahSkip?: string;
  buildkitSkip?: string;
}

/**
 * A path where an oracle (buildah 1.28, BuildKit 20.10) does something docker
 * users would not expect: it is not compared with that oracle; tsbuild's
 * entry must have the `expected` fields (docker's behaviour, with evidence in
 * `why`), and the oracle's must still differ, so a fixed oracle is noticed.
 * `expected: null` means docker's image has nothing at the path.
 */
export interface OracleQuirk {
  path: string;
  /** `text` is a small file's content (readable evidence); `null`: nothing at the path. */
  expected: { type?: string; mode?: number; uid?: number; gid?: number; size?: number; link?: string; sha256?: string; text?: string } | null;
  why: string;
}

/** The same for a config field: tsbuild's value (normalised as compared) must be `expected`. */
export interface OracleConfigQuirk {
  field: string;
  expected: unknown;
  why: string;
}

export type BuildahQuirk = OracleQuirk;
export type BuildahConfigQuirk = OracleConfigQuirk;

export interface Case {
  name: string;
  dir: string;
  setup: SetupOp[];
  builds: CaseBuild[];
}

export function listCases(): Case[] {
  return readdirSync(corpusDir)
    .filter((n) => existsSync(join(corpusDir, n, 'case.json')))
    .sort()
    .map((name) => {
      const spec = JSON.parse(readFileSync(join(corpusDir, name, 'case.json'), 'utf8')) as { setup?: SetupOp[]; builds: CaseBuild[] };
      return { name, dir: join(corpusDir, name), setup: spec.setup ?? [], builds: spec.builds };
    });
}

/** Copies the case dir to `dest` and applies its setup ops; returns `dest`. */
export function prepareContext(c: Case, dest: string): string {
  cpSync(c.dir, dest, { recursive: true, verbatimSymlinks: true });
  for (const op of c.setup) {
    switch (op.op) {
      case 'hardlink':
        linkSync(join(dest, op.from), join(dest, op.to));
        break;
      case 'mkdir':
        // git keeps no empty directories: cases that need one make it here.
        mkdirSync(join(dest, op.path), { recursive: true });
        break;
      case 'chmod':
        chmodSync(join(dest, op.path), Number.parseInt(op.mode, 8));
        break;
      case 'chown':
        chownSync(join(dest, op.path), op.uid, op.gid);
        break;
      case 'write':
        writeFileSync(join(dest, op.path), op.content);
        break;
      case 'manyFiles':
        mkdirSync(join(dest, op.dir), { recursive: true });
        for (let i = 0; i < op.count; i++) writeFileSync(join(dest, op.dir, `f${i}`), `generated ${i}\n`);
        break;
      case 'tar': {
        const [owner, group] = op.owner.split(':') as [string, string];
        execFileSync('tar', ['--numeric-owner', `--owner=${owner}`, `--group=${group}`, '--sort=name', '-C', join(dest, op.dir), op.gzip ? '-czf' : '-cf', join(dest, op.out), '.']);
        break;
      }
    }
  }
  return dest;
}
