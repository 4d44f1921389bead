// `tsbuild images [-q] [--format json]`: the images in the store, one row
// per name (a dangling image shows as <none>), newest first.
import { formatFlagHelp, parseArgs, type FlagSpec } from './args.js';
import type { CliContext } from './context.js';
import { humanDuration } from './cmd-ps.js';
import { usageError } from '../errors.js';
import { describeImage, formatTable, humanSize } from '../image/describe.js';
import { parseReference } from '../reference/index.js';
import { usingStore } from '../store/index.js';
import { loadIndexRecords, parseIndexRecord } from '../store/index-records.js';
import { digestHex } from '../store/digest.js';

const flags: FlagSpec[] = [
  { name: 'quiet', short: 'q', type: 'bool', help: 'print image IDs only' },
  { name: 'format', type: 'string', help: 'json for one JSON array, or table', value: 'FORMAT' },
  { name: 'help', type: 'bool', help: 'show this help' },
];

export async function run(ctx: CliContext, argv: string[]): Promise<number> {
  const a = parseArgs(argv, flags);
  if (a.bools.get('help')) { ctx.stdout.write(`Usage: tsbuild images [OPTIONS]\n\nList images in the store.\n\n${formatFlagHelp(flags)}\n`); return 0; }
  if (a.positionals.length > 0) throw usageError(`"tsbuild images" accepts no arguments (got ${a.positionals[0]})`);
  const format = a.strings.get('format') ?? 'table';
  if (format !== 'json' && format !== 'table') throw usageError(`invalid --format "${format}": expected json or table`);
  return usingStore(ctx.root, async (store) => {
    const images = await Promise.all((await store.listImages()).map((r) => describeImage(store, r)));
    // Multi-platform images: one row per name, the index digest as the ID, the size of its platform images.
    const indexes = loadIndexRecords(ctx.root).map((r) => {
      const digests = parseIndexRecord(r).manifests.map((m) => m.digest);
      const size = images.filter((i) => digests.includes(i.digest)).reduce((n, i) => n + i.size, 0);
      return { id: r.digest, digest: r.digest, names: [r.name], tags: [r.name], repoDigests: [] as string[], created: r.created, size, index: true };
    });
    if (a.bools.get('quiet')) {
      for (const id of new Set([...images, ...indexes].map((i) => digestHex(i.id).slice(0, 12)))) ctx.stdout.write(`${id}\n`);
      return 0;
    }
    if (format === 'json') {
      const list = [...images.map((i) => ({ id: i.id, digest: i.digest, names: i.names, tags: i.tags, repoDigests: i.repoDigests, created: i.created, size: i.size })), ...indexes];
      ctx.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
      return 0;
    }
    const rows = [['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE']];
    for (const i of [...images, ...indexes]) {
      const created = `${humanDuration(Date.now() - Date.parse(i.created))} ago`;
      const row = (repo: string, tag: string): string[] => [repo, tag, digestHex(i.id).slice(0, 12), created, humanSize(i.size)];
      if (i.names.length === 0) rows.push(row('<none>', '<none>'));
      for (const n of i.names) {
        const ref = parseReference(n);
        const familiar = ref.familiarName();
        rows.push(row(ref.tag ? familiar.slice(0, familiar.length - ref.tag.length - 1) : familiar, ref.tag ?? '<none>'));
      }
    }
    ctx.stdout.write(formatTable(rows));
    return 0;
  });
}
