// Typed instructions grouped into stages (buildkit's instructions.Parse):
// ARGs before the first FROM are the global scope, each FROM opens a stage,
// and every other instruction belongs to the stage above it. Stage names
// must be unique (case-insensitively, as docker lower-cases them).
import type { ParsedContainerfile } from '../parser/ast.js';
import { locatedError } from '../parser/located-error.js';
import { parseContainerfile } from '../parser/parser.js';
import { parseInstruction } from './parse.js';
import type { ArgInstruction, FromInstruction, StageInstruction } from './types.js';

export interface Stage {
  /** Position among the file's stages, from 0 (what `COPY --from=0` means). */
  index: number;
  /** Lower-cased `AS` name, or null. */
  name: string | null;
  from: FromInstruction;
  instructions: StageInstruction[];
}

export interface Containerfile {
  file: string;
  escapeToken: '\\' | '`';
  directives: Record<string, string>;
  /** ARGs before the first FROM: usable in FROM lines, and in stages that re-declare them. */
  globalArgs: ArgInstruction[];
  stages: Stage[];
  warnings: string[];
}

/** The instruction stage over a whole file. Throws located TsbuildErrors. */
export function buildContainerfile(parsed: ParsedContainerfile): Containerfile {
  const { file } = parsed;
  const globalArgs: ArgInstruction[] = [];
  const stages: Stage[] = [];
  const firstLineOfName = new Map<string, number>();
  for (const node of parsed.nodes) {
    const instruction = parseInstruction(node, file);
    if (instruction.kind === 'from') {
      const name = instruction.stageName;
      if (name !== null) {
        const earlier = firstLineOfName.get(name);
        if (earlier !== undefined) {
          throw locatedError('E_DUPLICATE_STAGE', `duplicate stage name "${name}" (first used at line ${earlier})`, file, instruction.line);
        }
        firstLineOfName.set(name, instruction.line);
      }
      stages.push({ index: stages.length, name, from: instruction, instructions: [] });
      continue;
    }
    const current = stages.at(-1);
    if (current) {
      current.instructions.push(instruction);
    } else if (instruction.kind === 'arg') {
      globalArgs.push(instruction);
    } else {
      throw locatedError('E_NO_FROM', `${node.spelled.toUpperCase()} comes before the first FROM: only ARG may come before FROM`, file, node.startLine);
    }
  }
  if (stages.length === 0) {
    throw locatedError('E_NO_FROM', 'no FROM instruction: a Containerfile needs at least one stage (FROM IMAGE)', file, parsed.nodes[0]?.startLine ?? 1);
  }
  return { file, escapeToken: parsed.escapeToken, directives: parsed.directives, globalArgs, stages, warnings: parsed.warnings };
}

/** Text → stages in one call: the parser stage, then the instruction stage. */
export function parseStages(source: string, opts: { file: string }): Containerfile {
  return buildContainerfile(parseContainerfile(source, opts));
}
