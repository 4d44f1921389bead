// `tsbuild stop`, `kill` and `rm`: ending containers. Each acts on several
// containers and reports every failure, exiting non-zero if any failed.
import { constants as osConstants } from 'node:os';
import { formatFlagHelp, parseArgs, type FlagSpec } from './args.js';
import type { CliContext } from './context.js';
import { TsbuildError, usageError } from '../errors.js';
import { refreshContainer, removeContainerFiles, signalContainer } from '../run/container.js';
import { isAlive } from '../run/proc.js';
import { findContainer, type ContainerState } from '../run/state.js';
import { reapStale } from '../run/reaper.js';

export function parseSignal(s: string): number {
  const upper = s.toUpperCase();
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n >= 1 && n <= 64) return n;
  } else {
    const name = (upper.startsWith('SIG') ? upper : `SIG${upper}`) as keyof typeof osConstants.signals;
    const n = osConstants.signals[name];
    if (n !== undefined) return n;
  }
  throw usageError(`invalid signal "${s}"`);
}

async function waitUntilGone(c: ContainerState, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isAlive(c.pid, c.pidStartTime)) {
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

/** Applies `fn` to each named container, printing errors and continuing. */
async function each(ctx: CliContext, refs: string[], fn: (c: ContainerState) => Promise<void>): Promise<number> {
  if (refs.length === 0) throw usageError('requires at least 1 container');
  reapStale(ctx.root);
  let failed = 0;
  for (const ref of refs) {
    try {
      const c = findContainer(ctx.root, ref);
      await fn(c);
      ctx.stdout.write(`${ref}\n`);
    } catch (err) {
      failed++;
      process.stderr.write(`tsbuild: ${err instanceof TsbuildError ? err.describe() : (err as Error).message}\n`);
    }
  }
  return failed > 0 ? 1 : 0;
}

const help = { name: 'help', type: 'bool', help: 'show this help' } as const;

export async function stopContainer(ctx: CliContext, c: ContainerState, seconds: number): Promise<void> {
  if (c.status !== 'running') return;
  const sig = c.imageConfig.StopSignal ? parseSignal(c.imageConfig.StopSignal) : osConstants.signals.SIGTERM;
  signalContainer(c, sig);
  if (!(await waitUntilGone(c, seconds * 1000))) {
    signalContainer(c, osConstants.signals.SIGKILL);
    await waitUntilGone(c, 10_000);
  }
  await settle(ctx, c);
}

/** Gives the owner or monitor a moment to record the exit, then refreshes. */
async function settle(ctx: CliContext, c: ContainerState): Promise<void> {
  for (let i = 0; i < 100; i++) {
    let found;
    try {
      found = findContainer(ctx.root, c.id);
    } catch {
      return; // a --rm container's owner removed it: it has ended
    }
    const fresh = refreshContainer(ctx.root, found);
    if (!fresh || fresh.status !== 'running') return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function stop(ctx: CliContext, argv: string[]): Promise<number> {
  const flags: FlagSpec[] = [{ name: 'time', short: 't', type: 'string', help: 'seconds to wait before killing (default 10)', value: 'N' }, help];
  const a = parseArgs(argv, flags);
  if (a.bools.get('help')) { process.stdout.write(`Usage: tsbuild stop [OPTIONS] CONTAINER...\n\n${formatFlagHelp(flags)}\n`); return 0; }
  const t = a.strings.get('time') ?? '10';
  if (!/^\d+$/.test(t)) throw usageError(`invalid --time "${t}": expected whole seconds`);
  return each(ctx, a.positionals, (c) => stopContainer(ctx, c, Number(t)));
}

export async function kill(ctx: CliContext, argv: string[]): Promise<number> {
  const flags: FlagSpec[] = [{ name: 'signal', short: 's', type: 'string', help: 'signal to send (default KILL)', value: 'SIG' }, help];
  const a = parseArgs(argv, flags);
  if (a.bools.get('help')) { process.stdout.write(`Usage: tsbuild kill [OPTIONS] CONTAINER...\n\n${formatFlagHelp(flags)}\n`); return 0; }
  const sig = parseSignal(a.strings.get('signal') ?? 'KILL');
  return each(ctx, a.positionals, async (c) => {
    if (!signalContainer(c, sig)) throw new TsbuildError('E_NOT_RUNNING', `container ${c.name} is not running`);
    if (sig === osConstants.signals.SIGKILL) { await waitUntilGone(c, 10_000); await settle(ctx, c); }
  });
}

export async function rm(ctx: CliContext, argv: string[]): Promise<number> {
  const flags: FlagSpec[] = [{ name: 'force', short: 'f', type: 'bool', help: 'kill a running container first' }, help];
  const a = parseArgs(argv, flags);
  if (a.bools.get('help')) { process.stdout.write(`Usage: tsbuild rm [OPTIONS] CONTAINER...\n\n${formatFlagHelp(flags)}\n`); return 0; }
  const force = a.bools.get('force') ?? false;
  return each(ctx, a.positionals, async (c) => {
    if (c.status === 'running') {
      if (!force) throw new TsbuildError('E_CONTAINER_RUNNING', `cannot remove running container ${c.name}: stop it first or use rm -f`);
      signalContainer(c, osConstants.signals.SIGKILL);
      if (!(await waitUntilGone(c, 10_000))) throw new TsbuildError('E_KILL_FAILED', `container ${c.name} did not die after SIGKILL`);
    }
    removeContainerFiles(ctx.root, c);
  });
}
