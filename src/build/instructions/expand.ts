// Expansion of typed instructions, the step the build engine calls before
// executing each one. Only what docker expands is expanded: ADD, COPY, ENV,
// EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR, ARG defaults, the
// `--chown`/`--chmod`/`--from`/`--checksum`/`--exclude` flags and RUN
// `--mount` options. RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK and ONBUILD
// text is left for the container's shell (or a later build).
//
// expandStage walks a stage keeping the ARG and ENV state as docker's
// BuildKit does: one set of variables that ENV and ARG (with a value) both
// set, the later one winning, for expansion and for RUN's environment; only
// ENV goes into the image config (dockerfile2llb dispatchArg: state.AddEnv).
// So `ARG X` after `ENV X` wins; `ENV X` after `ARG X` wins. buildah and the
// classic builder let ENV win whatever the order: where they disagree we
// follow BuildKit. A stage built FROM another stage carries on with that
// stage's ARG values (dispatchState.init copies the base's state and
// buildArgs). The engine gets, per step, the expanded instruction, the
// environment and the variables the step used (which the build cache must
// key on).
import { TsbuildError } from '../../errors.js';
import { addLocation, atLine, fail } from '../parser/located-error.js';
import { type Env, expandWord, type LexOptions } from '../shell/lex.js';
import { type ArgScopeInputs, declaredValue } from './args.js';
import { parseMount } from './mount.js';
import { parsePortSpec } from './ports.js';
import { checkSignal } from './signals.js';
import type { Stage } from './stages.js';
import type { AddInstruction, CopyInstruction, ExposedPort, HeredocFile, KeyValue, StageInstruction } from './types.js';

export interface ExpandOptions {
  /** For error locations. */
  file: string;
  escapeToken: string;
  /**
   * Leave references to unset variables as written instead of making them
   * empty. For checking a file without the base image's environment; values
   * that still hold `$` are then not validated.
   */
  lenient?: boolean;
}

export interface StageExpandContext extends ExpandOptions, ArgScopeInputs {
  /** The environment the stage starts with: the base image's (or base stage's) ENV. */
  baseEnv: ReadonlyMap<string, string>;
  /** A base stage's ARG values at its end (its `args`), which a stage FROM it inherits. */
  baseArgs?: ReadonlyMap<string, string>;
}

export interface ExpandedStep {
  /** The instruction with docker's expansions applied. */
  instruction: StageInstruction;
  /** ENV after this step: what goes into the image config. */
  env: ReadonlyMap<string, string>;
  /**
   * ARG values in force after this step, each set after any ENV of the same
   * name: they override `env` in RUN's environment, and never reach the image.
   */
  args: ReadonlyMap<string, string>;
  /** Variables the step's expansion looked up, found or not. */
  referenced: string[];
}

/** Expand a whole stage, step by step. Errors are located at the step's line. */
export function expandStage(stage: Stage, ctx: StageExpandContext): ExpandedStep[] {
  let env = new Map(ctx.baseEnv);
  const args = new Map(ctx.baseArgs ?? []);
  // What expansion sees: ENV and ARG values, whichever was set last.
  const vars = new Map([...env, ...args]);
  const steps: ExpandedStep[] = [];
  for (const instruction of stage.instructions) {
    const used = new Set<string>();
    let expanded: StageInstruction;
    if (instruction.kind === 'arg') {
      const expand = wordExpander(vars, ctx, instruction.line, used);
      for (const decl of instruction.args) {
        const value = declaredValue(decl, ctx, expand);
        if (value !== undefined) {
          args.set(decl.name, value);
          vars.set(decl.name, value); // later defaults on the same line see it
        }
      }
      expanded = instruction;
    } else {
      const r = expandInstructionWith(instruction, new Map(vars), ctx, used);
      expanded = r;
      if (r.kind === 'env') {
        env = new Map(env);
        for (const { key, value } of r.env) {
          env.set(key, value);
          vars.set(key, value);
          args.delete(key);
        }
      }
    }
    steps.push({ instruction: expanded, env, args: new Map(args), referenced: [...used] });
  }
  return steps;
}

/** Expand one instruction against `vars` (ARG values overlaid with ENV). */
export function expandInstruction(instruction: StageInstruction, vars: Env, opts: ExpandOptions): { instruction: StageInstruction; referenced: string[] } {
  const used = new Set<string>();
  return { instruction: expandInstructionWith(instruction, vars, opts, used), referenced: [...used] };
}

type Word = (word: string) => string;

function wordExpander(vars: Env, opts: ExpandOptions, line: number, used: Set<string>, extra: LexOptions = {}): Word {
  const lex: LexOptions = { escapeToken: opts.escapeToken, skipUnset: opts.lenient ?? false, ...extra };
  return (word) => atLine(opts.file, line, () => {
    const r = expandWord(word, vars, lex);
    for (const n of r.matched) used.add(n);
    for (const n of r.unmatched) used.add(n);
    return r.value;
  });
}

function expandInstructionWith(instruction: StageInstruction, vars: Env, opts: ExpandOptions, used: Set<string>): StageInstruction {
  const word = wordExpander(vars, opts, instruction.line, used);
  const pairs = (kv: KeyValue[]): KeyValue[] => kv.map(({ key, value }) => ({ key: word(key), value: word(value) }));
  switch (instruction.kind) {
    case 'env': return { ...instruction, env: pairs(instruction.env) };
    case 'label': return { ...instruction, labels: pairs(instruction.labels) };
    case 'user': return { ...instruction, user: word(instruction.user) };
    case 'workdir': return { ...instruction, path: word(instruction.path) };
    case 'volume': {
      const paths = instruction.paths.map(word);
      if (paths.some((p) => p.trim() === '')) atLine(opts.file, instruction.line, () => fail('E_PARSE', 'VOLUME path is empty after expansion'));
      return { ...instruction, paths };
    }
    case 'stopsignal': {
      const signal = word(instruction.signal);
      if (!signal.includes('$')) atLine(opts.file, instruction.line, () => checkSignal(signal));
      return { ...instruction, signal };
    }
    case 'expose': return { ...instruction, ports: instruction.ports.flatMap((p) => expandPort(p, vars, opts, used)) };
    case 'copy': return { ...instruction, ...fileCopyFields(instruction, word, vars, opts, used), from: nullable(instruction.from, word) };
    case 'add': return { ...instruction, ...fileCopyFields(instruction, word, vars, opts, used), checksum: nullable(instruction.checksum, word) };
    case 'run': {
      const mounts = instruction.mounts.map((m) => atLine(opts.file, instruction.line, () => parseMount(m.spec, word)));
      return { ...instruction, mounts };
    }
    default:
      return instruction; // CMD, ENTRYPOINT, SHELL, HEALTHCHECK, ONBUILD, MAINTAINER, ARG
  }
}

function nullable(value: string | null, word: Word): string | null {
  return value === null ? null : word(value);
}

function fileCopyFields(i: CopyInstruction | AddInstruction, word: Word, vars: Env, opts: ExpandOptions, used: Set<string>) {
  const body = wordExpander(vars, opts, i.line, used, { heredocBody: true });
  const inline: HeredocFile[] = i.inline.map((h) => (h.expand ? { ...h, content: body(h.content) } : h));
  return {
    sources: i.sources.map(word), dest: word(i.dest), inline,
    chown: nullable(i.chown, word), chmod: nullable(i.chmod, word), exclude: i.exclude.map(word),
  };
}

/** `EXPOSE $PORTS` may become several ports; each is checked at the word's own line. */
function expandPort(port: ExposedPort, vars: Env, opts: ExpandOptions, used: Set<string>): ExposedPort[] {
  if (!port.text.includes('$')) return [port];
  try {
    const r = expandWord(port.text, vars, { escapeToken: opts.escapeToken, skipUnset: opts.lenient ?? false });
    for (const n of [...r.matched, ...r.unmatched]) used.add(n);
    return r.words.map((text) => ({ text, line: port.line, spec: text.includes('$') ? null : parsePortSpec(text) }));
  } catch (err) {
    if (err instanceof TsbuildError) throw addLocation(err, opts.file, port.line);
    throw err;
  }
}
