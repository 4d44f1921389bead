// `tsbuild push [--tls-verify=false] [--digestfile F] IMAGE [DEST]`: upload a
// stored image (built, committed, pulled or loaded) to a registry and print
// the pushed manifest digest on stdout.
import { writeFile } from 'node:fs/promises';
import { formatFlagHelp, parseArgs, type FlagSpec } from './args.js';
import type { CliContext } from './context.js';
import { registryFlags, registryOptions } from './registry-flags.js';
import { usageError } from '../errors.js';
import { openStore } from '../store/index.js';
import { makeProgress, push } from '../registry/index.js';
import { pushIndex } from '../registry/push-index.js';
import { findIndexRecord } from '../store/index-records.js';

const flags: FlagSpec[] = [
  ...registryFlags,
  { name: 'digestfile', type: 'string', help: 'also write the manifest digest to FILE', value: 'FILE' },
  { name: 'quiet', short: 'q', type: 'bool', help: 'no progress output' },
  { name: 'help', type: 'bool', help: 'show this help' },
];

const usage = `Usage: tsbuild push [OPTIONS] IMAGE [DEST]

Push an image to a registry. DEST defaults to IMAGE's own name
(e.g. tsbuild push localhost:5000/app:1, or tsbuild push app:1 quay.io/me/app:1).

${formatFlagHelp(flags)}
`;

export async function run(ctx: CliContext, argv: string[]): Promise<number> {
  const a = parseArgs(argv, flags);
  if (a.bools.get('help')) { process.stdout.write(usage); return 0; }
  if (a.positionals.length < 1 || a.positionals.length > 2) throw usageError(`"tsbuild push" requires IMAGE and optionally DEST (see tsbuild push --help)`);
  const [image, dest] = a.positionals as [string, string | undefined];
  const quiet = a.bools.get('quiet') || ctx.log.level === 'error' || ctx.log.level === 'warn';
  const store = await openStore(ctx.root);
  try {
    // A multi-platform image: every platform image, then the index.
    const index = findIndexRecord(ctx.root, image);
    const result = index
      ? await pushIndex(store, index.json, index.mediaType, dest ?? index.name, { ...registryOptions(a), log: ctx.log })
      : await push(store, image, dest, {
      ...registryOptions(a),
      log: ctx.log,
      progress: makeProgress('Copying', { quiet }),
    });
    if (!quiet) ctx.log.info(`Pushed ${result.reference.toString()}`);
    const digestFile = a.strings.get('digestfile');
    if (digestFile) await writeFile(digestFile, result.digest);
    ctx.stdout.write(`${result.digest}\n`);
    return 0;
  } finally {
    await store.close();
  }
}
