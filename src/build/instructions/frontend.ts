// The Containerfile front end as one call: find and read the file, parse it,
// type it, resolve ARGs and stages, and expand what can be expanded without
// pulling anything. `tsbuild parse` and `build --check` use it; `build`
// itself calls the same pieces and then executes the plan.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describeErrno, TsbuildError } from '../../errors.js';
import { type BuildPlan, planBuild, type PlanOptions } from './graph.js';
import { type Containerfile, parseStages } from './stages.js';

export interface CheckOptions extends PlanOptions {
  /** How errors name the file: the path the user gave. */
  file: string;
}

export interface CheckResult {
  containerfile: Containerfile;
  /** The stages the target needs, with their bases and dependencies. */
  plan: BuildPlan;
}

/** Parse and validate Containerfile text without running anything. Throws located TsbuildErrors. */
export function checkContainerfileText(source: string, opts: CheckOptions): CheckResult {
  const containerfile = parseStages(source, { file: opts.file });
  return { containerfile, plan: planBuild(containerfile, opts) };
}

/** Read `path` (named `opts.file` in errors, default `path`) and check it. */
export async function checkContainerfile(path: string, opts: Partial<CheckOptions> = {}): Promise<CheckResult> {
  const file = opts.file ?? path;
  return checkContainerfileText(await readContainerfile(path, file), { ...opts, file });
}

/**
 * The Containerfile's text. Every failure is one E_NO_CONTAINERFILE line
 * naming the file as the user gave it: missing, a directory, a path through
 * a file, a link loop, unreadable, or not a regular file (a FIFO would block).
 */
export async function readContainerfile(path: string, file: string = path): Promise<string> {
  const fail = (why: string, cause?: unknown): never => {
    throw new TsbuildError('E_NO_CONTAINERFILE', `cannot read the Containerfile: ${why}`, { location: { file }, cause });
  };
  try {
    const st = await stat(path);
    if (st.isDirectory()) fail('it is a directory');
    if (!st.isFile()) fail('it is not a regular file');
    return await readFile(path, 'utf8');
  } catch (err) {
    if (err instanceof TsbuildError) throw err;
    return fail(describeErrno(err), err);
  }
}

/** `-f` default: CONTEXT/Containerfile, then CONTEXT/Dockerfile. */
export async function findContainerfile(context: string): Promise<string> {
  for (const name of ['Containerfile', 'Dockerfile']) {
    const candidate = join(context, name);
    try {
      if ((await stat(candidate)).isFile()) return candidate;
    } catch {
      // try the next name
    }
  }
  throw new TsbuildError('E_NO_CONTAINERFILE', `no Containerfile or Dockerfile in ${context} (use -f FILE)`);
}
