// `tsbuild exec [-i] [-t] CONTAINER CMD...`: start another process inside a
// running container by joining its namespaces and cgroup.
import { formatFlagHelp, parseArgs, type FlagSpec } from './args.js';
import type { CliContext } from './context.js';
import { usageError } from '../errors.js';
import { execInContainer } from '../run/exec.js';

const flags: FlagSpec[] = [
  { name: 'interactive', short: 'i', type: 'bool', help: 'keep stdin attached' },
  { name: 'tty', short: 't', type: 'bool', help: 'allocate a pseudo-terminal' },
  { name: 'env', short: 'e', type: 'list', help: 'set an environment variable', value: 'K=V' },
  { name: 'workdir', short: 'w', type: 'string', help: 'working directory', value: 'DIR' },
  { name: 'user', short: 'u', type: 'string', help: 'user (name or uid) and optional group', value: 'USER[:GROUP]' },
  { name: 'help', type: 'bool', help: 'show this help' },
];

export async function run(ctx: CliContext, argv: string[]): Promise<number> {
  const a = parseArgs(argv, flags, { stopAtPositional: true });
  if (a.bools.get('help')) { process.stdout.write(`Usage: tsbuild exec [OPTIONS] CONTAINER COMMAND [ARG...]\n\n${formatFlagHelp(flags)}\n`); return 0; }
  const [ref, ...args] = a.positionals;
  if (!ref || args.length === 0) throw usageError('"tsbuild exec" requires a container and a command');
  const tty = a.bools.get('tty') ?? false;
  const interactive = a.bools.get('interactive') ?? false;
  if (interactive && tty && !process.stdin.isTTY) throw usageError('the input device is not a TTY (drop -t, or run from a terminal)');
  return execInContainer(ctx.root, ref, {
    args,
    env: a.lists.get('env') ?? [],
    user: a.strings.get('user'),
    cwd: a.strings.get('workdir'),
    tty,
    interactive,
  });
}
