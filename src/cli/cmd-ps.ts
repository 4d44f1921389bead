// `tsbuild ps [-a] [-q] [--format json]`: list containers, refreshing the
// status of any whose process has gone since it was last recorded.
import { formatFlagHelp, parseArgs, type FlagSpec } from './args.js';
import type { CliContext } from './context.js';
import { reapStale } from '../run/reaper.js';
import { listStates, type ContainerState } from '../run/state.js';
import { usageError } from '../errors.js';

const flags: FlagSpec[] = [
  { name: 'all', short: 'a', type: 'bool', help: 'show all containers (default: running only)' },
  { name: 'quiet', short: 'q', type: 'bool', help: 'print IDs only' },
  { name: 'format', type: 'string', help: 'json for one JSON array', value: 'FORMAT' },
  { name: 'help', type: 'bool', help: 'show this help' },
];

export function describeStatus(c: ContainerState, now = Date.now()): string {
  const ago = (iso: string | undefined) => humanDuration(now - Date.parse(iso ?? c.created));
  if (c.status === 'running') return `Up ${ago(c.startedAt)}`;
  if (c.status === 'exited') return `Exited (${c.exitCode ?? 0})${c.oomKilled ? ' (OOMKilled)' : ''} ${ago(c.finishedAt)} ago`;
  return 'Created';
}

/**
 * A duration as docker prints it in CREATED and STATUS columns (go-units'
 * HumanDuration): "Less than a second", "About a minute", "3 weeks",
 * "56 years"; scripts and eyes used to docker read the same words.
 */
export function humanDuration(ms: number): string {
  const s = Math.floor(Math.max(0, ms) / 1000);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const m = Math.floor(s / 60);
  if (m === 1) return 'About a minute';
  if (m < 60) return `${m} minutes`;
  const h = Math.round(ms / 3_600_000);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.floor(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.floor(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24 / 30)} months`;
  return `${Math.floor(ms / 3_600_000 / 24 / 365)} years`;
}

export async function run(ctx: CliContext, argv: string[]): Promise<number> {
  const a = parseArgs(argv, flags);
  if (a.bools.get('help')) { process.stdout.write(`Usage: tsbuild ps [OPTIONS]\n\n${formatFlagHelp(flags)}\n`); return 0; }
  if (a.positionals.length > 0) throw usageError(`"tsbuild ps" accepts no arguments (got ${a.positionals[0]})`);
  const format = a.strings.get('format');
  if (format !== undefined && format !== 'json' && format !== 'table') throw usageError(`invalid --format "${format}": expected json or table`);
  const all = a.bools.get('all') ?? false;
  reapStale(ctx.root);
  const list = listStates(ctx.root)
    // Build steps' containers are transient and internal: never listed.
    .filter((s): s is ContainerState => s !== undefined && s.kind !== 'build' && (all || s.status === 'running'));
  if (a.bools.get('quiet')) {
    for (const c of list) ctx.stdout.write(`${c.id.slice(0, 12)}\n`);
    return 0;
  }
  if (format === 'json') {
    ctx.stdout.write(`${JSON.stringify(list.map((c) => ({ id: c.id, name: c.name, image: c.imageName, imageId: c.imageId, command: c.config.args, created: c.created, status: c.status, exitCode: c.exitCode, pid: c.pid, kind: c.kind })), null, 2)}\n`);
    return 0;
  }
  const rows = [['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'NAMES']];
  for (const c of list) {
    const cmd = c.config.args.join(' ');
    rows.push([c.id.slice(0, 12), c.imageName, `"${cmd.length > 20 ? `${cmd.slice(0, 19)}…` : cmd}"`, `${humanDuration(Date.now() - Date.parse(c.created))} ago`, describeStatus(c), c.name]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] as string).length)));
  for (const r of rows) ctx.stdout.write(`${r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd((widths[i] as number) + 3))).join('')}\n`);
  return 0;
}
