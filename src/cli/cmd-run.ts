// `tsbuild run`: create a container from an image and run a command in it,
// in the foreground (exit status passed through) or detached (-d).
import { formatFlagHelp, parseArgs, type FlagSpec } from './args.js';
import type { CliContext } from './context.js';
import { usageError } from '../errors.js';
import { withRunnableImage } from '../run/resolve.js';
import { parsePlatform } from '../image/platform.js';
import { createContainer, exitStatusCode, oomMessage } from '../run/container.js';
import { runForeground, startDetached } from '../run/foreground.js';
import { parseLimits } from '../run/limits.js';
import { commandLine, containerEnv, mergeEnv, workingDir } from '../run/process-spec.js';
import { reapStale } from '../run/reaper.js';
import { findContainer, newContainerId, type BindSpec, type ContainerState, type IdMap } from '../run/state.js';
import { resolveUser } from '../run/user.js';
import { parseSecurityOpts } from '../run/security.js';

export const runFlags: FlagSpec[] = [
  { name: 'name', type: 'string', help: 'container name', value: 'NAME' },
  { name: 'rm', type: 'bool', help: 'remove the container when it exits' },
  { name: 'detach', short: 'd', type: 'bool', help: 'run in the background and print the container ID' },
  { name: 'interactive', short: 'i', type: 'bool', help: 'keep stdin attached' },
  { name: 'tty', short: 't', type: 'bool', help: 'allocate a pseudo-terminal' },
  { name: 'hostname', type: 'string', help: 'container host name', value: 'NAME' },
  { name: 'env', short: 'e', type: 'list', help: 'set an environment variable', value: 'K=V' },
  { name: 'workdir', short: 'w', type: 'string', help: 'working directory inside the container', value: 'DIR' },
  { name: 'user', short: 'u', type: 'string', help: 'user (name or uid) and optional group', value: 'USER[:GROUP]' },
  { name: 'entrypoint', type: 'string', help: "override the image's ENTRYPOINT", value: 'CMD' },
  { name: 'network', type: 'string', help: 'none (default: a new network namespace with loopback only) or host', value: 'MODE' },
  { name: 'cpu-period', type: 'string', help: 'CPU CFS period in microseconds', value: 'N' },
  { name: 'cpu-quota', type: 'string', help: 'CPU CFS quota in microseconds per period', value: 'N' },
  { name: 'cpus', type: 'string', help: 'number of CPUs (sets period and quota)', value: 'F' },
  { name: 'cpuset-cpus', type: 'string', help: 'CPUs the container may use, e.g. 0-1', value: 'LIST' },
  { name: 'memory', short: 'm', type: 'string', help: 'memory limit, e.g. 32m', value: 'SIZE' },
  { name: 'pids-limit', type: 'string', help: 'maximum number of processes (-1: unlimited)', value: 'N' },
  { name: 'volume', short: 'v', type: 'list', help: 'bind mount a host path', value: 'HOST:CTR[:ro]' },
  { name: 'uidmap', type: 'list', help: 'run in a user namespace with this uid map', value: 'CTR:HOST:SIZE' },
  { name: 'gidmap', type: 'list', help: 'gid map for the user namespace (default: the uid map)', value: 'CTR:HOST:SIZE' },
  { name: 'security-opt', type: 'list', help: 'seccomp=unconfined or seccomp=PROFILE.json (docker format)', value: 'OPT' },
  { name: 'tls-verify', type: 'bool', help: 'verify registry TLS certificates when pulling (default true)' },
  { name: 'platform', type: 'string', help: 'run this platform of a multi-platform image (default: this host; a foreign one runs through binfmt_misc)', value: 'OS/ARCH[/VARIANT]' },
  { name: 'help', type: 'bool', help: 'show this help' },
];

const usage = `Usage: tsbuild run [OPTIONS] IMAGE [COMMAND [ARG...]]

Run a command in a new container. IMAGE is an image name, or dir:PATH for a
plain directory used as a one-layer image.

Options:
${formatFlagHelp(runFlags)}
`;

export function parseVolume(spec: string): BindSpec {
  const parts = spec.split(':');
  const [source, target, mode] = parts;
  if (parts.length < 2 || parts.length > 3 || !source || !target) throw usageError(`invalid volume "${spec}": expected HOST:CONTAINER[:ro]`);
  if (!source.startsWith('/') || !target.startsWith('/')) throw usageError(`invalid volume "${spec}": both paths must be absolute`);
  if (mode !== undefined && mode !== 'ro' && mode !== 'rw') throw usageError(`invalid volume mode "${mode}" in "${spec}": expected ro or rw`);
  return { source, target, readonly: mode === 'ro' };
}

/** A working container (from `tsbuild from`) named `ref`, if there is one. */
function workingContainer(root: string, ref: string): ContainerState | undefined {
  try {
    const c = findContainer(root, ref);
    return c.kind === 'working' ? c : undefined;
  } catch {
    return undefined;
  }
}

export function parseIdMap(spec: string, flag: string): IdMap {
  const m = /^(\d+):(\d+):(\d+)$/.exec(spec);
  if (!m || Number(m[3]) === 0) throw usageError(`invalid ${flag} "${spec}": expected CONTAINER_ID:HOST_ID:SIZE`);
  return { containerId: Number(m[1]), hostId: Number(m[2]), size: Number(m[3]) };
}

export function parseNetwork(v: string | undefined): 'host' | 'none' {
  const n = v ?? 'none';
  if (n !== 'host' && n !== 'none') throw usageError(`invalid --network "${n}": expected host or none`);
  return n;
}

export async function run(ctx: CliContext, argv: string[]): Promise<number> {
  const a = parseArgs(argv, runFlags, { stopAtPositional: true });
  if (a.bools.get('help')) { process.stdout.write(usage); return 0; }
  const [imageRef, ...userArgs] = a.positionals;
  if (!imageRef) throw usageError('"tsbuild run" requires at least 1 argument: IMAGE (see tsbuild run --help)');
  const detached = a.bools.get('detach') ?? false;
  const tty = a.bools.get('tty') ?? false;
  const interactive = a.bools.get('interactive') ?? false;
  const autoRemove = a.bools.get('rm') ?? false;
  if (interactive && tty && !detached && !process.stdin.isTTY) throw usageError('the input device is not a TTY (drop -t, or run from a terminal)');
  const limits = parseLimits({
    memory: a.strings.get('memory'), cpus: a.strings.get('cpus'), cpuPeriod: a.strings.get('cpu-period'),
    cpuQuota: a.strings.get('cpu-quota'), pidsLimit: a.strings.get('pids-limit'), cpusetCpus: a.strings.get('cpuset-cpus'),
  });
  const network = parseNetwork(a.strings.get('network'));
  const binds = (a.lists.get('volume') ?? []).map(parseVolume);
  const uidMaps = (a.lists.get('uidmap') ?? []).map((m) => parseIdMap(m, '--uidmap'));
  const gidMaps = (a.lists.get('gidmap') ?? []).map((m) => parseIdMap(m, '--gidmap'));
  if (gidMaps.length > 0 && uidMaps.length === 0) throw usageError('--gidmap needs --uidmap');
  const securityOpts = a.lists.get('security-opt') ?? [];
  const security = parseSecurityOpts(securityOpts, ctx.root);

  reapStale(ctx.root);
  const working = workingContainer(ctx.root, imageRef);
  if (working) {
    // buildah style: `run CONTAINER CMD` in a working container made by `tsbuild from`.
    if (userArgs.length === 0) throw usageError(`"tsbuild run ${imageRef}" needs a command to run in the working container`);
    if (working.status === 'running') throw usageError(`working container ${working.name} is already running a command`);
    working.config = {
      ...working.config,
      args: userArgs,
      env: mergeEnv(working.config.env, a.lists.get('env') ?? []),
      cwd: a.strings.get('workdir') ?? working.config.cwd,
      user: a.strings.get('user') ?? working.config.user,
      network: a.strings.get('network') === undefined ? working.config.network : network,
      tty,
      interactive,
      limits,
      binds,
      // The profile `tsbuild from` recorded, unless this command names one.
      ...(securityOpts.length > 0 ? { security } : {}),
    };
    return foreground(ctx, working);
  }
  const state = await withRunnableImage(ctx.root, imageRef, { log: ctx.log, tlsVerify: a.bools.get('tls-verify'), ...(a.strings.get('platform') !== undefined ? { platform: parsePlatform(a.strings.get('platform') as string) } : {}) }, (image) => {
    const args = commandLine(image.config, userArgs, a.strings.get('entrypoint'));
    const id = newContainerId();
    const hostname = a.strings.get('hostname') ?? id.slice(0, 12);
    const user = a.strings.get('user') ?? image.config.User ?? '';
    const home = resolveUser(image.layerDirs, user).home;
    return createContainer(ctx.root, {
      id,
      image,
      name: a.strings.get('name'),
      kind: 'run',
      detached,
      autoRemove,
      config: {
        args,
        env: containerEnv(image.config, a.lists.get('env') ?? [], { hostname, home, tty }),
        cwd: workingDir(image.config, a.strings.get('workdir')),
        user,
        hostname,
        network,
        tty,
        interactive,
        limits,
        binds,
        ...(securityOpts.length > 0 ? { security } : {}),
        ...(uidMaps.length > 0 ? { uidMaps, gidMaps: gidMaps.length > 0 ? gidMaps : uidMaps } : {}),
      },
  });
  });
  if (!detached) return foreground(ctx, state);
  startDetached(ctx.root, state);
  ctx.stdout.write(`${state.id}\n`);
  return 0;
}

async function foreground(ctx: CliContext, state: ContainerState): Promise<number> {
  const info = await runForeground(ctx.root, state);
  if (info.oomKilled) process.stderr.write(`tsbuild: ${oomMessage(state)}\n`);
  return exitStatusCode(info);
}
