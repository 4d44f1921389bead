// `tsbuild pull [--platform P] [--tls-verify=false] [-q] REF`: fetch an image
// from a registry into the store and print its ID on stdout (progress on stderr).
import { formatFlagHelp, parseArgs, type FlagSpec } from './args.js';
import type { CliContext } from './context.js';
import { registryFlags, registryOptions } from './registry-flags.js';
import { usageError } from '../errors.js';
import { openStore } from '../store/index.js';
import { makeProgress, parsePlatform, parseReference, pull } from '../registry/index.js';

const flags: FlagSpec[] = [
  { name: 'platform', type: 'string', help: 'pull this platform from a multi-platform image (default: this host)', value: 'OS/ARCH[/VARIANT]' },
  ...registryFlags,
  { name: 'quiet', short: 'q', type: 'bool', help: 'no progress output' },
  { name: 'help', type: 'bool', help: 'show this help' },
];

const usage = `Usage: tsbuild pull [OPTIONS] REF

Pull an image from a registry (e.g. busybox, quay.io/ns/app:1, localhost:5000/a@sha256:…)
and print its image ID.

${formatFlagHelp(flags)}
`;

export async function run(ctx: CliContext, argv: string[]): Promise<number> {
  const a = parseArgs(argv, flags);
  if (a.bools.get('help')) { process.stdout.write(usage); return 0; }
  if (a.positionals.length !== 1) throw usageError(`"tsbuild pull" requires exactly one image reference (see tsbuild pull --help)`);
  const ref = parseReference(a.positionals[0] as string);
  const platformFlag = a.strings.get('platform');
  const platform = platformFlag === undefined ? undefined : parsePlatform(platformFlag);
  const quiet = a.bools.get('quiet') || ctx.log.level === 'error' || ctx.log.level === 'warn';
  const store = await openStore(ctx.root);
  try {
    // Only in a terminal: in logs, a failed pull must stay one error line.
    if (!quiet && process.stderr.isTTY) ctx.log.info(`Trying to pull ${ref.toString()}...`);
    const result = await pull(store, ref, {
      platform,
      ...registryOptions(a),
      log: ctx.log,
      progress: makeProgress('Copying', { quiet }),
    });
    ctx.stdout.write(`${result.image.id}\n`);
    return 0;
  } finally {
    await store.close();
  }
}
