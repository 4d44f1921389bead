// `tsbuild load [-i PATH]`: images from an OCI layout directory, an
// oci-archive or a docker-archive (detected from the content), or from a
// tar on stdin when -i is not given.
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { formatFlagHelp, parseArgs, type FlagSpec } from './args.js';
import type { CliContext } from './context.js';
import { usageError } from '../errors.js';
import { loadArchive } from '../image/archive/load.js';
import { tempName } from '../store/blobs.js';
import { usingStore } from '../store/index.js';

const flags: FlagSpec[] = [
  { name: 'input', short: 'i', type: 'string', help: 'read from this archive or OCI layout directory (default stdin)', value: 'PATH' },
  { name: 'quiet', short: 'q', type: 'bool', help: 'print nothing but errors' },
  { name: 'help', type: 'bool', help: 'show this help' },
];

export async function run(ctx: CliContext, argv: string[]): Promise<number> {
  const a = parseArgs(argv, flags);
  if (a.bools.get('help')) { ctx.stdout.write(`Usage: tsbuild load [-i PATH]\n\n${formatFlagHelp(flags)}\n`); return 0; }
  if (a.positionals.length > 0) throw usageError(`"tsbuild load" accepts no arguments (got ${a.positionals[0]}); use -i PATH`);
  return usingStore(ctx.root, async (store) => {
    let input = a.strings.get('input');
    let spool: string | undefined;
    if (!input) {
      if (process.stdin.isTTY) throw usageError('"tsbuild load" needs -i PATH or an archive on stdin');
      spool = join(store.root, 'tmp', tempName('stdin'));
      await pipeline(process.stdin, createWriteStream(spool, { mode: 0o600 }));
      input = spool;
    }
    try {
      const loaded = await loadArchive(store, input);
      if (!a.bools.get('quiet')) {
        for (const img of loaded) {
          if (img.names.length === 0) ctx.stdout.write(`Loaded image ID: ${img.record.id}\n`);
          for (const n of img.names) ctx.stdout.write(`Loaded image: ${n}\n`);
        }
      }
      return 0;
    } finally {
      if (spool) await rm(spool, { force: true });
    }
  });
}
