// RUN [--mount=…]... [--network=…] [--security=…] COMMAND, and how a RUN
// with heredocs turns into something to execute. The command text itself is
// never expanded by the builder: the container's shell does that.
import { fail } from '../parser/located-error.js';
import { chompHeredoc, parseHeredocWord } from '../parser/heredoc.js';
import type { Heredoc } from '../parser/ast.js';
import { parseFlags } from './flags.js';
import { parseMount } from './mount.js';
import { type ParseRequest, sourceRange } from './request.js';
import { didYouMean } from './suggest.js';
import type { CommandLine, HeredocFile, RunInstruction } from './types.js';

const NETWORKS = ['default', 'none', 'host'] as const;
const SECURITY = ['insecure', 'sandbox'] as const;

export function parseRun(req: ParseRequest): RunInstruction {
  const flags = parseFlags('RUN', req.node.flags, { mount: 'list', network: 'string', security: 'string' });
  const network = oneOf('network', flags.string('network'), NETWORKS);
  const security = oneOf('security', flags.string('security'), SECURITY);
  const mounts = flags.list('mount').map((spec) => parseMount(spec, null));
  const command = commandLine(req.node.json, req.node.args);
  if (command.args.length === 0 || command.args[0] === '') fail('E_MISSING_ARG', 'RUN requires a command');
  return { kind: 'run', ...sourceRange(req.node), command, heredocs: req.node.heredocs.map(heredocFile), mounts, network, security };
}

/** JSON form → exec; otherwise the whole line for the shell. A bare CMD is an empty exec form. */
export function commandLine(json: boolean, args: readonly string[]): CommandLine {
  if (json || args.length === 0) return { form: 'exec', args: [...args] };
  return { form: 'shell', args: [args[0] as string] };
}

export function heredocFile(h: Heredoc): HeredocFile {
  return {
    name: h.name,
    content: h.chomp ? chompHeredoc(h.content) : h.content,
    expand: h.expand,
    chomp: h.chomp,
    fileDescriptor: h.fileDescriptor,
  };
}

function oneOf<T extends string>(flag: string, value: string | null, allowed: readonly T[]): T | null {
  if (value === null) return null;
  const hit = allowed.find((a) => a === value);
  if (!hit) fail('E_BAD_FLAG', `invalid --${flag}=${value}: use ${allowed.join(', ')}${didYouMean(value, allowed)}`);
  return hit;
}

/** What a RUN step executes, once heredocs are taken into account. */
export type RunScript =
  | { kind: 'exec'; argv: string[] }
  | { kind: 'shell'; script: string }
  /** `RUN <<EOF` whose body starts with `#!`: write the body to a file and execute it. */
  | { kind: 'file'; content: string };

/**
 * As buildkit does: `RUN <<EOF` alone runs the body (as a script file when it
 * has a shebang); any other use (`RUN python3 <<EOF`, two heredocs) hands the
 * shell the command line followed by the bodies and delimiters, so the shell
 * itself wires up the heredocs.
 */
export function runScript(run: RunInstruction): RunScript {
  const { command, heredocs } = run;
  if (command.form === 'exec') return { kind: 'exec', argv: command.args };
  const line = command.args[0] as string;
  const first = heredocs[0];
  if (!first) return { kind: 'shell', script: line };
  if (heredocs.length === 1 && parseHeredocWord(line.trim())) {
    return first.content.startsWith('#!') ? { kind: 'file', content: first.content } : { kind: 'shell', script: first.content };
  }
  return { kind: 'shell', script: heredocs.reduce((s, h) => `${s}\n${h.content}${h.name}`, line) };
}
