// HEALTHCHECK [--interval=… --timeout=… --start-period=… --start-interval=…
// --retries=N] CMD command | HEALTHCHECK NONE. Durations are Go durations
// (docker parses them with time.ParseDuration); 0 means "docker's default".
import { atLine, fail } from '../parser/located-error.js';
import { parseGoDuration } from './duration.js';
import { parseFlags, type ParsedFlags } from './flags.js';
import { type ParseRequest, sourceRange } from './request.js';
import { commandLine } from './run.js';
import type { HealthcheckInstruction } from './types.js';

const MIN_DURATION_NS = 1e6; // docker's container.MinimumDuration (1ms)

export function parseHealthcheck(req: ParseRequest): HealthcheckInstruction {
  const flags = parseFlags('HEALTHCHECK', req.node.flags, {
    interval: 'string', timeout: 'string', 'start-period': 'string', 'start-interval': 'string', retries: 'string',
  });
  const [type, ...rest] = req.node.args;
  if (type === undefined) fail('E_MISSING_ARG', 'HEALTHCHECK requires CMD COMMAND or NONE');
  const base = { kind: 'healthcheck' as const, ...sourceRange(req.node) };
  const upper = type.toUpperCase();
  if (upper === 'NONE') {
    if (rest.length > 0) fail('E_EXTRA_ARG', 'HEALTHCHECK NONE takes no arguments');
    return { ...base, test: { type: 'none' }, interval: null, timeout: null, startPeriod: null, startInterval: null, retries: null };
  }
  if (upper !== 'CMD') fail('E_PARSE', `unknown HEALTHCHECK type ${JSON.stringify(type)} (use CMD or NONE)`);
  if (rest.length === 0) fail('E_MISSING_ARG', 'HEALTHCHECK CMD requires a command');
  return {
    ...base,
    test: { type: 'cmd', command: commandLine(req.node.json, rest) },
    interval: duration(req, flags, 'interval'),
    timeout: duration(req, flags, 'timeout'),
    startPeriod: duration(req, flags, 'start-period'),
    startInterval: duration(req, flags, 'start-interval'),
    retries: retries(flags.string('retries')),
  };
}

function duration(req: ParseRequest, flags: ParsedFlags, name: string): number | null {
  const text = flags.string(name);
  if (text === null || text === '') return null;
  const ns = atLine(req.file, req.node.startLine, () => parseGoDuration(text));
  if (ns !== 0 && ns < MIN_DURATION_NS) fail('E_BAD_FLAG', `HEALTHCHECK --${name}=${text} is shorter than the 1ms minimum`);
  return ns;
}

function retries(text: string | null): number | null {
  if (text === null || text === '') return null;
  if (!/^[+-]?\d+$/.test(text)) fail('E_BAD_FLAG', `HEALTHCHECK --retries=${text} is not a whole number`);
  const n = Number(text);
  if (n < 0) fail('E_BAD_FLAG', `HEALTHCHECK --retries can't be negative (got ${text})`);
  return n;
}
