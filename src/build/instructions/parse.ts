// The instruction stage's dispatcher (buildkit's ParseInstruction): one AST
// node → one typed instruction, each family in its own module. Unknown
// keywords are reported here, with the closest real instruction suggested.
// ONBUILD's trigger is parsed like any instruction so its mistakes are found
// in this build, not in some later image's build.
import type { AstNode } from '../parser/ast.js';
import { atLine, fail, shown } from '../parser/located-error.js';
import {
  parseArg, parseCmd, parseEntrypoint, parseEnv, parseExpose, parseLabel, parseMaintainer, parseShell, parseStopsignal,
  parseUser, parseVolume, parseWorkdir,
} from './config.js';
import { parseAdd, parseCopy } from './copy.js';
import { parseFlags } from './flags.js';
import { parseFrom } from './from.js';
import { parseHealthcheck } from './healthcheck.js';
import { type ParseRequest, sourceRange } from './request.js';
import { parseRun } from './run.js';
import { didYouMean } from './suggest.js';
import type { Instruction, OnbuildInstruction, StageInstruction } from './types.js';

type InstructionParser = (req: ParseRequest) => Instruction;

const parsers: Record<string, InstructionParser> = {
  add: parseAdd, arg: parseArg, cmd: parseCmd, copy: parseCopy, entrypoint: parseEntrypoint, env: parseEnv,
  expose: parseExpose, from: parseFrom, healthcheck: parseHealthcheck, label: parseLabel, maintainer: parseMaintainer,
  onbuild: parseOnbuild, run: parseRun, shell: parseShell, stopsignal: parseStopsignal, user: parseUser,
  volume: parseVolume, workdir: parseWorkdir,
};

export const INSTRUCTION_NAMES: readonly string[] = Object.keys(parsers).map((k) => k.toUpperCase());

/** Parse one node; errors are located at the node's first line unless they know better. */
export function parseInstruction(node: AstNode, file: string): Instruction {
  return atLine(file, node.startLine, () => {
    const parser = Object.hasOwn(parsers, node.keyword) ? parsers[node.keyword] : undefined;
    const name = node.spelled.toUpperCase();
    if (!parser) fail('E_UNKNOWN_INSTRUCTION', `unknown instruction: ${shown(name)}${didYouMean(name, INSTRUCTION_NAMES)}`);
    return parser({ node, file, name });
  });
}

function parseOnbuild(req: ParseRequest): OnbuildInstruction {
  parseFlags('ONBUILD', req.node.flags, {});
  const child = req.node.child;
  if (!child) fail('E_MISSING_ARG', 'ONBUILD requires an instruction to run in builds based on this image');
  const keyword = child.keyword.toUpperCase();
  if (keyword === 'ONBUILD') fail('E_BAD_ONBUILD', "ONBUILD ONBUILD isn't allowed");
  if (keyword === 'FROM' || keyword === 'MAINTAINER') fail('E_BAD_ONBUILD', `${keyword} isn't allowed as an ONBUILD trigger`);
  // The trigger owns the heredoc bodies written after the ONBUILD line.
  const trigger = parseInstruction({ ...child, heredocs: req.node.heredocs }, req.file) as StageInstruction;
  const expression = req.node.heredocs.reduce((s, h) => `${s}\n${h.content}${h.name}`, child.original.trim());
  return { kind: 'onbuild', ...sourceRange(req.node), trigger, expression };
}
