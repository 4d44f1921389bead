// `tsbuild tag SOURCE TARGET`: give an image another name (moved off any
// image that had it, as docker does).
import { formatFlagHelp, parseArgs, type FlagSpec } from './args.js';
import type { CliContext } from './context.js';
import { usageError } from '../errors.js';
import { usingStore } from '../store/index.js';

const flags: FlagSpec[] = [{ name: 'help', type: 'bool', help: 'show this help' }];

export async function run(ctx: CliContext, argv: string[]): Promise<number> {
  const a = parseArgs(argv, flags);
  if (a.bools.get('help')) { ctx.stdout.write(`Usage: tsbuild tag SOURCE_IMAGE TARGET_IMAGE[:TAG]\n\n${formatFlagHelp(flags)}\n`); return 0; }
  if (a.positionals.length !== 2) throw usageError('"tsbuild tag" requires exactly 2 arguments: SOURCE_IMAGE TARGET_IMAGE[:TAG]');
  const [src, dst] = a.positionals as [string, string];
  await usingStore(ctx.root, (store) => store.tagImage(src, dst));
  return 0;
}
