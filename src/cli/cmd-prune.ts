// `tsbuild prune`: remove dangling images no container uses, then every blob
// and unpacked layer that no image or container references, temp files
// crashed runs left behind, the digest memos of deleted build contexts, and
// the memos of COPY --from digests.
import { formatFlagHelp, parseArgs, type FlagSpec } from './args.js';
import type { CliContext } from './context.js';
import { usageError } from '../errors.js';
import { pruneDigestMemos } from '../build/copy/file-digests.js';
import { pruneLayerDigestMemos } from '../build/copy/layer-digests.js';
import { humanSize } from '../image/describe.js';
import { usingStore } from '../store/index.js';

const flags: FlagSpec[] = [{ name: 'help', type: 'bool', help: 'show this help' }];

export async function run(ctx: CliContext, argv: string[]): Promise<number> {
  const a = parseArgs(argv, flags);
  if (a.bools.get('help')) { ctx.stdout.write(`Usage: tsbuild prune\n\nRemove unused images, blobs and layers.\n\n${formatFlagHelp(flags)}\n`); return 0; }
  if (a.positionals.length > 0) throw usageError(`"tsbuild prune" accepts no arguments (got ${a.positionals[0]})`);
  const res = await usingStore(ctx.root, (store) => store.prune());
  // The build context's digest memos are a cache of the build engine, not store objects.
  const memoBytes = pruneDigestMemos(ctx.root) + pruneLayerDigestMemos(ctx.root);
  ctx.stdout.write(`Deleted images: ${res.imagesRemoved}, blobs: ${res.blobsRemoved}, layers: ${res.layersRemoved}\nTotal reclaimed space: ${humanSize(res.bytesFreed + memoBytes)}\n`);
  return 0;
}
