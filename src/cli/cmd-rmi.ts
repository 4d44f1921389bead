// `tsbuild rmi [-f] IMAGE...`: remove names and images, then the blobs and
// layers nothing else uses. Like docker, it goes on after a failed argument
// and reports each failure on its own line.
import { formatFlagHelp, parseArgs, type FlagSpec } from './args.js';
import type { CliContext } from './context.js';
import { isTsbuildError, usageError } from '../errors.js';
import { usingStore } from '../store/index.js';
import { findIndexRecord, removeIndexRecord } from '../store/index-records.js';
import { normaliseName } from '../store/images.js';

const flags: FlagSpec[] = [
  { name: 'force', short: 'f', type: 'bool', help: 'remove an image with several names, or untag one a container uses' },
  { name: 'help', type: 'bool', help: 'show this help' },
];

export async function run(ctx: CliContext, argv: string[]): Promise<number> {
  const a = parseArgs(argv, flags);
  if (a.bools.get('help')) { ctx.stdout.write(`Usage: tsbuild rmi [OPTIONS] IMAGE [IMAGE...]\n\n${formatFlagHelp(flags)}\n`); return 0; }
  if (a.positionals.length === 0) throw usageError('"tsbuild rmi" requires at least 1 argument');
  const force = a.bools.get('force') ?? false;
  return usingStore(ctx.root, async (store) => {
    let failed = 0;
    for (const ref of a.positionals) {
      try {
        // A name of a multi-platform image: the index goes; its platform images stay until prune.
        if (!/^(sha256:)?[a-f0-9]{4,64}$/.test(ref) && findIndexRecord(ctx.root, ref) && removeIndexRecord(ctx.root, ref)) {
          ctx.stdout.write(`Untagged: ${normaliseName(ref)}\n`);
          continue;
        }
        const res = await store.removeImage(ref, { force });
        for (const n of res.untagged) ctx.stdout.write(`Untagged: ${n}\n`);
        for (const id of res.deleted) ctx.stdout.write(`Deleted: ${id}\n`);
      } catch (err) {
        if (!isTsbuildError(err) || a.positionals.length === 1) throw err;
        process.stderr.write(`tsbuild: ${err.describe()}\n`);
        failed++;
      }
    }
    return failed ? 1 : 0;
  });
}
