// Stages as a build graph: what each stage is based on (a stage, an image or
// scratch), which other stages it reads from (`COPY --from`, `RUN --mount
// from=`), cycle detection, and pruning to the stages a `--target` needs.
// The engine builds `plan.stages` in dependency order and may build stages
// whose dependencies are done in parallel.
import { TsbuildError } from '../../errors.js';
import { parseReference } from '../../reference/index.js';
import { atLine, fail, locatedError } from '../parser/located-error.js';
import { processWord } from '../shell/lex.js';
import { type Platform, resolveGlobalScope, undeclaredBuildArgs } from './args.js';
import { type ExpandedStep, expandStage } from './expand.js';
import type { Containerfile, Stage } from './stages.js';
import type { StageInstruction } from './types.js';

export type StageBase =
  | { kind: 'stage'; index: number }
  | { kind: 'image'; reference: string }
  | { kind: 'scratch' };

/** What `COPY --from=X` or `--mount=from=X` refers to. */
export type SourceRef = { kind: 'stage'; index: number } | { kind: 'image'; reference: string };

export interface PlannedStage {
  index: number;
  name: string | null;
  /** FROM after expanding global ARGs. */
  base: StageBase;
  /** `--platform` after expansion, if given. */
  platform: string | null;
  /** Stages that must be built first (base stage and --from sources), ascending. */
  dependsOn: number[];
  /**
   * Images the stage names (FROM, `COPY --from`, `RUN --mount from=`) as
   * far as the plan can expand them, with the line naming each: the engine
   * resolves them all before any stage runs. A name still holding variables
   * only known while building is left out (the stage resolves it itself).
   */
  images: ImageUse[];
  stage: Stage;
}

export interface ImageUse {
  reference: string;
  line: number;
}

export interface BuildPlan {
  file: string;
  /** Global ARG values (with build args and platform ARGs): the `globalScope` for expandStage. */
  globalScope: Map<string, string>;
  /** The stages the target needs, in file order (which is a valid build order). */
  stages: PlannedStage[];
  /** Index of the target stage (the last stage unless --target says otherwise). */
  target: number;
  /** Build args that no ARG declares: ignored, and worth a warning. */
  undeclaredArgs: string[];
}

export interface PlanOptions {
  buildArgs?: ReadonlyMap<string, string>;
  /** Stage name to stop at; case-insensitive. */
  target?: string;
  platform?: { target?: Platform; build?: Platform };
}

/**
 * Resolve stage references and prune to the target. Stage dependencies from
 * `--from` are found by expanding each stage with what is known without
 * pulling anything (ARGs, ENVs of the file, base stages' ENVs).
 */
export function planBuild(cf: Containerfile, opts: PlanOptions = {}): BuildPlan {
  const buildArgs = opts.buildArgs ?? new Map<string, string>();
  const globalScope = resolveGlobalScope(cf, buildArgs, opts.platform);
  const planned: PlannedStage[] = [];
  const finalEnv: Array<ReadonlyMap<string, string>> = [];
  const finalArgs: Array<ReadonlyMap<string, string>> = [];
  for (const stage of cf.stages) {
    const { base, platform } = resolveBase(cf, stage, globalScope);
    const deps = new Set<number>(base.kind === 'stage' ? [base.index] : []);
    const images: ImageUse[] = base.kind === 'image' ? [{ reference: base.reference, line: stage.from.line }] : [];
    const baseEnv = base.kind === 'stage' ? (finalEnv[base.index] ?? new Map()) : new Map<string, string>();
    const baseArgs = base.kind === 'stage' ? (finalArgs[base.index] ?? new Map()) : new Map<string, string>();
    const steps = expandStage(stage, { file: cf.file, escapeToken: cf.escapeToken, lenient: true, buildArgs, globalScope, baseEnv, baseArgs });
    for (const step of steps) {
      for (const from of sourceNames(step)) {
        const ref = atLine(cf.file, step.instruction.line, () => resolveSource(from, cf.stages));
        if (ref?.kind === 'stage') deps.add(ref.index);
        if (ref?.kind === 'image') images.push({ reference: ref.reference, line: step.instruction.line });
      }
    }
    finalEnv.push(steps.at(-1)?.env ?? baseEnv);
    finalArgs.push(steps.at(-1)?.args ?? baseArgs);
    planned.push({ index: stage.index, name: stage.name, base, platform, dependsOn: [...deps].sort((a, b) => a - b), images, stage });
  }
  checkCycles(cf, planned);
  const target = targetIndex(cf, opts.target);
  const needed = new Set<number>();
  const visit = (i: number): void => {
    if (needed.has(i)) return;
    needed.add(i);
    for (const d of (planned[i] as PlannedStage).dependsOn) visit(d);
  };
  visit(target);
  return { file: cf.file, globalScope, stages: planned.filter((s) => needed.has(s.index)), target, undeclaredArgs: undeclaredBuildArgs(cf, buildArgs) };
}

function resolveBase(cf: Containerfile, stage: Stage, globalScope: ReadonlyMap<string, string>): { base: StageBase; platform: string | null } {
  return atLine(cf.file, stage.from.line, () => {
    const expand = (w: string): string => processWord(w, globalScope, { escapeToken: cf.escapeToken });
    const image = expand(stage.from.image);
    const platform = stage.from.platform === null ? null : expand(stage.from.platform);
    if (image.trim() === '') fail('E_MISSING_ARG', `FROM ${stage.from.image}: the base image name is empty after expansion (is the ARG set?)`);
    // FROM may only name a stage defined above it.
    const earlier = cf.stages.find((s) => s.index < stage.index && s.name === image.toLowerCase());
    if (earlier) return { base: { kind: 'stage', index: earlier.index }, platform };
    if (image.toLowerCase() === 'scratch') return { base: { kind: 'scratch' }, platform };
    return { base: { kind: 'image', reference: checkedReference(image) }, platform };
  });
}

/** The `--from` values a step reads from, after expansion. */
function sourceNames(step: ExpandedStep): string[] {
  const i: StageInstruction = step.instruction;
  if (i.kind === 'copy' && i.from !== null) return [i.from];
  if (i.kind === 'run') return i.mounts.flatMap((m) => (m.from === null ? [] : [m.from]));
  return [];
}

/**
 * A stage name (any stage, case-insensitive; a stage reading from itself
 * is caught as a cycle), a stage index, or else an
 * image reference, which must at least be well formed. A reference still
 * holding variables is left for the engine (null). Pulling is the engine's
 * job: it turns a failed pull into an error located at the same line.
 */
export function resolveSource(from: string, stages: readonly Stage[]): SourceRef | null {
  if (/^\d+$/.test(from)) {
    const index = Number(from);
    if (index >= stages.length) {
      fail('E_UNKNOWN_STAGE', `--from=${from}: there is no stage ${index} (stages are numbered 0 to ${stages.length - 1})`);
    }
    return { kind: 'stage', index };
  }
  const named = stages.find((s) => s.name !== null && s.name === from.toLowerCase());
  if (named) return { kind: 'stage', index: named.index };
  if (from.includes('$')) return null;
  if (from === '') fail('E_UNKNOWN_STAGE', '--from needs a stage name, a stage index or an image');
  return { kind: 'image', reference: checkedReference(from) };
}

function checkedReference(image: string): string {
  try {
    return parseReference(image).toString();
  } catch (err) {
    const why = err instanceof TsbuildError ? err.message : String(err);
    return fail('E_BAD_REFERENCE', `${why} (not a stage name either)`);
  }
}

function checkCycles(cf: Containerfile, stages: readonly PlannedStage[]): void {
  const state = new Map<number, 'visiting' | 'done'>();
  const visit = (i: number): void => {
    state.set(i, 'visiting');
    for (const d of (stages[i] as PlannedStage).dependsOn) {
      if (state.get(d) === 'visiting') {
        const s = stages[d] as PlannedStage;
        throw locatedError('E_STAGE_CYCLE', `circular dependency detected on stage ${s.name ?? s.index}`, cf.file, s.stage.from.line);
      }
      if (!state.has(d)) visit(d);
    }
    state.set(i, 'done');
  };
  for (const s of stages) if (!state.has(s.index)) visit(s.index);
}

function targetIndex(cf: Containerfile, target: string | undefined): number {
  if (target === undefined || target === '') return cf.stages.length - 1;
  const stage = cf.stages.find((s) => s.name === target.toLowerCase());
  if (stage) return stage.index;
  const names = cf.stages.flatMap((s) => (s.name === null ? [] : [s.name]));
  throw new TsbuildError(
    'E_UNKNOWN_STAGE',
    `target stage "${target}" could not be found (${names.length ? `stages: ${names.join(', ')}` : 'no stage has a name'})`,
    { location: { file: cf.file } },
  );
}
