// `tsbuild history [--no-trunc] [--format json] IMAGE`: an image's history,
// newest first, in docker's columns (IMAGE, CREATED, CREATED BY, SIZE,
// COMMENT) plus CPU and MEM: the resource report of RUN steps built in this
// store (ROOT/step-usage, see store/step-usage.ts). Steps not measured here
// (a pulled base, COPY, config steps) have empty CPU and MEM.
import { formatFlagHelp, parseArgs, type FlagSpec } from './args.js';
import type { CliContext } from './context.js';
import { humanDuration } from './cmd-ps.js';
import { usageError } from '../errors.js';
import { formatTable, humanSize, layerSize } from '../image/describe.js';
import type { HistoryEntry, ImageConfig } from '../image/oci.js';
import { usingStore } from '../store/index.js';
import { digestHex } from '../store/digest.js';
import { imageStepUsage, type StepUsage } from '../store/step-usage.js';
import { cpuText, memText } from '../build/executor/step-usage.js';

const flags: FlagSpec[] = [
  { name: 'no-trunc', type: 'bool', help: "don't truncate output" },
  { name: 'format', type: 'string', help: 'json for one JSON array, or table', value: 'FORMAT' },
  { name: 'quiet', short: 'q', type: 'bool', help: 'only show image IDs' },
  { name: 'help', type: 'bool', help: 'show this help' },
];

export interface HistoryRow {
  /** The image ID on the newest entry, `<missing>` below it (as docker shows BuildKit-built images). */
  id: string;
  created?: string;
  createdBy: string;
  /** Bytes the entry's layer adds (uncompressed); 0 for an entry without a layer. */
  size: number;
  comment: string;
  emptyLayer: boolean;
  usage?: StepUsage;
}

/** The rows of `history`, newest first. `layerSizes` is one size per layer (diff_ids order). */
export function historyRows(imageId: string, config: Pick<ImageConfig, 'history' | 'rootfs'>, layerSizes: readonly number[], usage: readonly (StepUsage | undefined)[]): HistoryRow[] {
  const history: HistoryEntry[] = config.history ?? [];
  let layer = 0;
  const rows = history.map((h, i): HistoryRow => {
    const empty = h.empty_layer === true;
    const size = empty ? 0 : (layerSizes[layer++] ?? 0);
    const u = usage[i];
    return { id: '<missing>', ...(h.created !== undefined ? { created: h.created } : {}), createdBy: h.created_by ?? '', size: u && !empty ? u.layerBytes : size, comment: h.comment ?? '', emptyLayer: empty, ...(u ? { usage: u } : {}) };
  });
  rows.reverse();
  if (rows[0]) rows[0].id = imageId;
  return rows;
}

/** docker's truncation of CREATED BY: 45 characters, the last one an ellipsis. */
function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

export function historyTable(rows: readonly HistoryRow[], opts: { noTrunc: boolean; now: number }): string {
  const table = [['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT', 'CPU', 'MEM']];
  for (const r of rows) {
    const id = r.id === '<missing>' || opts.noTrunc ? r.id : digestHex(r.id).slice(0, 12);
    const created = r.created === undefined ? 'N/A' : `${humanDuration(opts.now - Date.parse(r.created))} ago`;
    const by = opts.noTrunc ? r.createdBy : truncate(r.createdBy.replace(/\s+/g, ' '), 45);
    table.push([id, created, by, humanSize(r.size), opts.noTrunc ? r.comment : truncate(r.comment, 45), r.usage ? cpuText(r.usage) : '', r.usage ? memText(r.usage) : '']);
  }
  return formatTable(table).replace(/ +\n/g, '\n');
}

export async function run(ctx: CliContext, argv: string[]): Promise<number> {
  const a = parseArgs(argv, flags);
  if (a.bools.get('help')) { ctx.stdout.write(`Usage: tsbuild history [OPTIONS] IMAGE\n\nShow the history of an image, with the CPU and peak memory of RUN steps built here.\n\n${formatFlagHelp(flags)}\n`); return 0; }
  if (a.positionals.length !== 1) throw usageError(`"tsbuild history" requires exactly 1 argument (an image)`);
  const format = a.strings.get('format') ?? 'table';
  if (format !== 'json' && format !== 'table') throw usageError(`invalid --format "${format}": expected json or table`);
  return usingStore(ctx.root, async (store) => {
    const record = await store.resolveImage(a.positionals[0] as string);
    const { manifest, config } = await store.readImage(record);
    const sizes = await Promise.all(manifest.layers.map((l, i) => {
      const diffId = config.rootfs?.diff_ids?.[i];
      return diffId ? layerSize(store, diffId, l.size) : l.size;
    }));
    const rows = historyRows(record.id, config, sizes, imageStepUsage(ctx.root, config));
    if (a.bools.get('quiet')) {
      for (const r of rows) ctx.stdout.write(`${r.id === '<missing>' || a.bools.get('no-trunc') ? r.id : digestHex(r.id).slice(0, 12)}\n`);
    } else if (format === 'json') {
      ctx.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    } else {
      ctx.stdout.write(historyTable(rows, { noTrunc: a.bools.get('no-trunc') === true, now: Date.now() }));
    }
    return 0;
  });
}
