// `tsbuild inspect NAME`: a container's record as JSON, or else the image's
// (delegated to the store's inspect). Containers win, as in docker.
import { formatFlagHelp, parseArgs, type FlagSpec } from './args.js';
import type { CliContext } from './context.js';
import { isTsbuildError, usageError } from '../errors.js';
import { containerPaths } from '../run/container-fs.js';
import { refreshContainer } from '../run/container.js';
import { findContainer, type ContainerState } from '../run/state.js';

const flags: FlagSpec[] = [{ name: 'help', type: 'bool', help: 'show this help' }];

export function containerJson(root: string, c: ContainerState): object {
  const p = containerPaths(root, c.id);
  return {
    type: 'container',
    id: c.id,
    name: c.name,
    created: c.created,
    image: c.imageName,
    imageId: c.imageId,
    kind: c.kind,
    state: { status: c.status, pid: c.pid, startedAt: c.startedAt, finishedAt: c.finishedAt, exitCode: c.exitCode, signal: c.signal, oomKilled: c.oomKilled ?? false },
    config: c.config,
    rootfs: { lowerDirs: [p.init, ...[...c.layerDirs].reverse()], upperDir: p.upper, workDir: p.work },
    cgroup: c.cgroupName,
  };
}

export async function run(ctx: CliContext, argv: string[]): Promise<number> {
  const a = parseArgs(argv, flags);
  if (a.bools.get('help')) { process.stdout.write(`Usage: tsbuild inspect IMAGE|CONTAINER\n\n${formatFlagHelp(flags)}\n`); return 0; }
  if (a.positionals.length !== 1) throw usageError('"tsbuild inspect" requires exactly 1 image or container');
  const ref = a.positionals[0] as string;
  try {
    const c = refreshContainer(ctx.root, findContainer(ctx.root, ref));
    if (c) {
      ctx.stdout.write(`${JSON.stringify(containerJson(ctx.root, c), null, 2)}\n`);
      return 0;
    }
  } catch (err) {
    if (!isTsbuildError(err) || err.code !== 'E_CONTAINER_NOT_FOUND') throw err;
  }
  const { inspectImage } = await import('./cmd-image-inspect.js');
  const json = await inspectImage(ctx, ref);
  ctx.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  return 0;
}
