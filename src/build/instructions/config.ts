// The instructions that only change the image config or the build's
// variables: CMD, ENTRYPOINT, SHELL, ENV, LABEL, ARG, MAINTAINER, USER,
// WORKDIR, VOLUME, EXPOSE, STOPSIGNAL. Each checks its argument count and
// form; values stay as written for expansion.
import { atLine, fail } from '../parser/located-error.js';
import { parseFlags } from './flags.js';
import { parsePortSpec } from './ports.js';
import { type ParseRequest, requireArgs, requireExactlyOne, sourceRange } from './request.js';
import { commandLine } from './run.js';
import { checkSignal } from './signals.js';
import type {
  ArgInstruction, CmdInstruction, EntrypointInstruction, EnvInstruction, ExposeInstruction, KeyValue, LabelInstruction,
  MaintainerInstruction, ShellInstruction, StopsignalInstruction, UserInstruction, VolumeInstruction, WorkdirInstruction,
} from './types.js';

/** Instructions that take no flags at all still reject them, with a clear message. */
function noFlags(req: ParseRequest): void {
  parseFlags(req.name, req.node.flags, {});
}

export function parseCmd(req: ParseRequest): CmdInstruction {
  noFlags(req);
  return { kind: 'cmd', ...sourceRange(req.node), command: commandLine(req.node.json, req.node.args) };
}

export function parseEntrypoint(req: ParseRequest): EntrypointInstruction {
  noFlags(req);
  return { kind: 'entrypoint', ...sourceRange(req.node), command: commandLine(req.node.json, req.node.args) };
}

export function parseShell(req: ParseRequest): ShellInstruction {
  noFlags(req);
  if (!req.node.json && req.node.args.length > 0) {
    fail('E_NOT_JSON', `SHELL requires the JSON form, e.g. SHELL ["/bin/bash", "-c"], not ${JSON.stringify(req.node.args[0])}`);
  }
  requireArgs(req, 1, 'at least one argument: SHELL ["executable", "parameters"]');
  return { kind: 'shell', ...sourceRange(req.node), shell: [...req.node.args] };
}

function keyValues(req: ParseRequest): KeyValue[] {
  requireArgs(req, 1, 'at least one KEY=VALUE pair');
  const pairs: KeyValue[] = [];
  const args = req.node.args;
  for (let i = 0; i + 1 < args.length; i += 3) {
    const key = args[i] as string;
    if (key === '') fail('E_PARSE', `${req.name} names can not be blank`);
    pairs.push({ key, value: args[i + 1] as string });
  }
  return pairs;
}

export function parseEnv(req: ParseRequest): EnvInstruction {
  noFlags(req);
  return { kind: 'env', ...sourceRange(req.node), env: keyValues(req) };
}

export function parseLabel(req: ParseRequest): LabelInstruction {
  noFlags(req);
  return { kind: 'label', ...sourceRange(req.node), labels: keyValues(req) };
}

export function parseArg(req: ParseRequest): ArgInstruction {
  noFlags(req);
  requireArgs(req, 1, 'a name: ARG NAME[=DEFAULT] ...');
  const args = req.node.args.map((word) => {
    const eq = word.indexOf('=');
    const name = eq < 0 ? word : word.slice(0, eq);
    if (name === '') fail('E_PARSE', `ARG names can not be blank (in ${JSON.stringify(word)})`);
    return { name, defaultValue: eq < 0 ? null : word.slice(eq + 1) };
  });
  return { kind: 'arg', ...sourceRange(req.node), args };
}

export function parseMaintainer(req: ParseRequest): MaintainerInstruction {
  noFlags(req);
  return { kind: 'maintainer', ...sourceRange(req.node), maintainer: requireExactlyOne(req, 'a name') };
}

export function parseUser(req: ParseRequest): UserInstruction {
  noFlags(req);
  return { kind: 'user', ...sourceRange(req.node), user: requireExactlyOne(req, 'a user: USER NAME[:GROUP]') };
}

export function parseWorkdir(req: ParseRequest): WorkdirInstruction {
  noFlags(req);
  return { kind: 'workdir', ...sourceRange(req.node), path: requireExactlyOne(req, 'a path') };
}

export function parseStopsignal(req: ParseRequest): StopsignalInstruction {
  noFlags(req);
  const signal = requireExactlyOne(req, 'a signal, e.g. SIGTERM or 15');
  if (!signal.includes('$')) checkSignal(signal);
  return { kind: 'stopsignal', ...sourceRange(req.node), signal };
}

export function parseVolume(req: ParseRequest): VolumeInstruction {
  noFlags(req);
  requireArgs(req, 1, 'at least one path');
  const paths = req.node.args.map((p) => p.trim());
  if (paths.includes('')) fail('E_PARSE', 'VOLUME paths can not be empty strings');
  return { kind: 'volume', ...sourceRange(req.node), paths };
}

export function parseExpose(req: ParseRequest): ExposeInstruction {
  noFlags(req);
  requireArgs(req, 1, 'at least one port: EXPOSE PORT[/PROTOCOL] ...');
  const { node, file } = req;
  const ports = node.args.map((text, i) => {
    const line = node.argLines[i] ?? node.startLine;
    // A word with variables is checked after expansion, at the same line.
    const spec = text.includes('$') ? null : atLine(file, line, () => parsePortSpec(text));
    return { text, line, spec };
  });
  return { kind: 'expose', ...sourceRange(node), ports };
}
