// `tsbuild logs CONTAINER`: the output a detached container has written.
// Foreground containers write to the terminal, so they have no log.
import { createReadStream, existsSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { formatFlagHelp, parseArgs, type FlagSpec } from './args.js';
import type { CliContext } from './context.js';
import { usageError } from '../errors.js';
import { containerPaths } from '../run/container-fs.js';
import { findContainer } from '../run/state.js';

const flags: FlagSpec[] = [{ name: 'help', type: 'bool', help: 'show this help' }];

export async function run(ctx: CliContext, argv: string[]): Promise<number> {
  const a = parseArgs(argv, flags);
  if (a.bools.get('help')) { process.stdout.write(`Usage: tsbuild logs CONTAINER\n\n${formatFlagHelp(flags)}\n`); return 0; }
  if (a.positionals.length !== 1) throw usageError('"tsbuild logs" requires exactly 1 container');
  const c = findContainer(ctx.root, a.positionals[0] as string);
  const log = containerPaths(ctx.root, c.id).logFile;
  if (!existsSync(log)) return 0;
  await pipeline(createReadStream(log), ctx.stdout, { end: false });
  return 0;
}
