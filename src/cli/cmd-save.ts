// `tsbuild save [--format oci-dir|oci-archive|docker-archive] -o PATH IMAGE...`
import { formatFlagHelp, parseArgs, type FlagSpec } from './args.js';
import type { CliContext } from './context.js';
import { usageError } from '../errors.js';
import { SAVE_FORMATS, saveImages, type SaveFormat } from '../image/archive/save.js';
import { usingStore } from '../store/index.js';
import { resolve } from 'node:path';

const flags: FlagSpec[] = [
  { name: 'format', type: 'string', help: 'oci-dir, oci-archive or docker-archive (default docker-archive)', value: 'FORMAT' },
  { name: 'output', short: 'o', type: 'string', help: 'write to this file (a directory for oci-dir)', value: 'PATH' },
  { name: 'help', type: 'bool', help: 'show this help' },
];

export async function run(ctx: CliContext, argv: string[]): Promise<number> {
  const a = parseArgs(argv, flags);
  if (a.bools.get('help')) { ctx.stdout.write(`Usage: tsbuild save [OPTIONS] -o PATH IMAGE [IMAGE...]\n\n${formatFlagHelp(flags)}\n`); return 0; }
  const format = (a.strings.get('format') ?? 'docker-archive') as SaveFormat;
  if (!SAVE_FORMATS.includes(format)) throw usageError(`invalid --format "${format}": expected ${SAVE_FORMATS.join(', ')}`);
  const out = a.strings.get('output');
  if (!out) throw usageError('"tsbuild save" requires -o PATH');
  if (a.positionals.length === 0) throw usageError('"tsbuild save" requires at least 1 image');
  await usingStore(ctx.root, (store) => saveImages(store, a.positionals, format, resolve(out)));
  ctx.log.info(`Saved ${a.positionals.join(', ')} to ${out} (${format})`);
  return 0;
}
