// `tsbuild from IMAGE`: a working container, buildah style: the image's
// layers, an init layer and an empty read-write layer, with no process yet.
// `tsbuild run CONTAINER CMD…` runs commands in it; `tsbuild commit` saves it.
import { formatFlagHelp, parseArgs, type FlagSpec } from './args.js';
import type { CliContext } from './context.js';
import { usageError } from '../errors.js';
import { withRunnableImage } from '../run/resolve.js';
import { createContainer } from '../run/container.js';
import { containerEnv, workingDir } from '../run/process-spec.js';
import { reapStale } from '../run/reaper.js';
import { listStates, newContainerId } from '../run/state.js';
import { resolveUser } from '../run/user.js';
import { parseSecurityOpts } from '../run/security.js';

const flags: FlagSpec[] = [
  { name: 'name', type: 'string', help: 'container name (default IMAGE-working-container)', value: 'NAME' },
  { name: 'security-opt', type: 'list', help: 'seccomp=unconfined or seccomp=PROFILE.json for the commands run in it', value: 'OPT' },
  { name: 'tls-verify', type: 'bool', help: 'verify registry TLS certificates when pulling' },
  { name: 'help', type: 'bool', help: 'show this help' },
];

export function workingName(image: string, taken: ReadonlySet<string>): string {
  const base = (image.split('/').pop() ?? image).split(/[:@]/)[0]?.replace(/[^a-zA-Z0-9_.-]/g, '') || 'image';
  let name = `${base}-working-container`;
  for (let i = 1; taken.has(name); i++) name = `${base}-working-container-${i}`;
  return name;
}

export async function run(ctx: CliContext, argv: string[]): Promise<number> {
  const a = parseArgs(argv, flags);
  if (a.bools.get('help')) { process.stdout.write(`Usage: tsbuild from [OPTIONS] IMAGE\n\n${formatFlagHelp(flags)}\n`); return 0; }
  if (a.positionals.length !== 1) throw usageError('"tsbuild from" requires exactly 1 image');
  const ref = a.positionals[0] as string;
  const securityOpts = a.lists.get('security-opt') ?? [];
  const security = parseSecurityOpts(securityOpts, ctx.root);
  reapStale(ctx.root);
  const state = await withRunnableImage(ctx.root, ref, { log: ctx.log, tlsVerify: a.bools.get('tls-verify') }, (image) => {
    const id = newContainerId();
    const hostname = id.slice(0, 12);
    const user = image.config.User ?? '';
    return createContainer(ctx.root, {
      id,
      image,
      name: a.strings.get('name') ?? workingName(ref, new Set(listStates(ctx.root).map((c) => c.name))),
      kind: 'working',
      detached: false,
      autoRemove: false,
      config: {
        args: [...(image.config.Entrypoint ?? []), ...(image.config.Cmd ?? [])],
        env: containerEnv(image.config, [], { hostname, home: resolveUser(image.layerDirs, user).home, tty: false }),
        cwd: workingDir(image.config),
        user,
        hostname,
        network: 'host',
        tty: false,
        interactive: false,
        limits: {},
        binds: [],
        ...(securityOpts.length > 0 ? { security } : {}),
      },
    });
  });
  ctx.stdout.write(`${state.name}\n`);
  return 0;
}
