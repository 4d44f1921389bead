// `tsbuild commit CONTAINER [IMAGE[:TAG]] [-m MSG] [-c 'INSTRUCTION']...`:
// the container's read-write layer becomes one new layer on its image.
// Works for working containers (tsbuild from) and run containers, stopped
// or running.
import { formatFlagHelp, parseArgs, type FlagSpec } from './args.js';
import type { CliContext } from './context.js';
import { usageError } from '../errors.js';
import { containerPaths } from '../run/container-fs.js';
import { findContainer } from '../run/state.js';

const flags: FlagSpec[] = [
  { name: 'message', short: 'm', type: 'string', help: 'commit message (stored in the history)', value: 'MSG' },
  { name: 'change', short: 'c', type: 'list', help: 'apply a config instruction, e.g. \'CMD ["/app"]\'', value: 'INSTRUCTION' },
  { name: 'help', type: 'bool', help: 'show this help' },
];

export async function run(ctx: CliContext, argv: string[]): Promise<number> {
  const a = parseArgs(argv, flags);
  if (a.bools.get('help')) { process.stdout.write(`Usage: tsbuild commit [OPTIONS] CONTAINER [IMAGE[:TAG]]\n\n${formatFlagHelp(flags)}\n`); return 0; }
  const [ref, name, ...extra] = a.positionals;
  if (!ref || extra.length > 0) throw usageError('"tsbuild commit" requires a container and at most one image name');
  const c = findContainer(ctx.root, ref);
  const { openStore } = await import('../store/index.js');
  const { commitContainer } = await import('../build/commit.js');
  const store = await openStore(ctx.root);
  try {
    const msg = a.strings.get('message');
    const result = await commitContainer(store, c, containerPaths(ctx.root, c.id).upper, {
      changes: a.lists.get('change') ?? [],
      tags: name ? [name] : [],
      ...(msg !== undefined ? { message: msg } : {}),
    });
    ctx.stdout.write(`${result.id}\n`);
  } finally {
    await store.close();
  }
  return 0;
}
