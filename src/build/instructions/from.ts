// FROM [--platform=P] IMAGE [AS NAME]: the start of a stage. Stage names are
// lower-cased (docker compares them case-insensitively) and must look like
// identifiers so they can't be confused with stage indexes or images.
import { fail } from '../parser/located-error.js';
import { parseFlags } from './flags.js';
import { type ParseRequest, sourceRange } from './request.js';
import type { FromInstruction } from './types.js';

const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

export function parseFrom(req: ParseRequest): FromInstruction {
  const flags = parseFlags('FROM', req.node.flags, { platform: 'string' });
  const args = req.node.args;
  if (args.length === 0) fail('E_MISSING_ARG', 'FROM requires a base image: FROM IMAGE [AS NAME]');
  const as = args[1];
  if (args.length === 2 && as?.toLowerCase() === 'as') fail('E_MISSING_ARG', `FROM ${args[0]} AS requires a stage name after AS`);
  if (args.length !== 1 && !(args.length === 3 && as?.toLowerCase() === 'as')) {
    fail('E_PARSE', `FROM takes one image and an optional AS NAME, not ${JSON.stringify(args.join(' '))}`);
  }
  let stageName: string | null = null;
  if (args.length === 3) {
    stageName = (args[2] as string).toLowerCase();
    if (!STAGE_NAME.test(stageName)) {
      fail('E_BAD_STAGE_NAME', `invalid stage name ${JSON.stringify(args[2])}: it must start with a letter and hold only letters, digits, '-', '_' and '.'`);
    }
  }
  return { kind: 'from', ...sourceRange(req.node), image: args[0] as string, stageName, platform: flags.string('platform') };
}
