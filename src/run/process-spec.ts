// The container's process as docker computes it from the image config and
// the command line: entrypoint + command, environment with PATH and HOME
// defaults, the working directory, and the paths to try for argv[0].
import { posix } from 'node:path';
import { TsbuildError, ExitCode } from '../errors.js';
import type { OciContainerConfig } from '../image/runnable.js';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** ENTRYPOINT + (user command or CMD), as `docker run` combines them. */
export function commandLine(image: OciContainerConfig, userArgs: readonly string[], entrypointOverride?: string): string[] {
  const entrypoint = entrypointOverride !== undefined ? (entrypointOverride === '' ? [] : [entrypointOverride]) : (image.Entrypoint ?? []);
  const cmd = userArgs.length > 0 ? [...userArgs] : entrypointOverride !== undefined ? [] : (image.Cmd ?? []);
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) throw new TsbuildError('E_NO_COMMAND', 'no command specified: the image has no CMD or ENTRYPOINT and none was given', { exitCode: ExitCode.internal });
  return args;
}

/** Later entries override earlier ones by key; order of first appearance is kept. */
export function mergeEnv(...lists: ReadonlyArray<readonly string[]>): string[] {
  const map = new Map<string, string>();
  for (const list of lists) {
    for (const kv of list) {
      const eq = kv.indexOf('=');
      const key = eq < 0 ? kv : kv.slice(0, eq);
      if (eq < 0) {
        // `-e NAME` takes the value from the caller's environment, as docker does.
        const v = process.env[key];
        if (v !== undefined) map.set(key, `${key}=${v}`);
        continue;
      }
      map.set(key, kv);
    }
  }
  return [...map.values()];
}

export function envValue(env: readonly string[], key: string): string | undefined {
  const hit = env.findLast((kv) => kv.startsWith(`${key}=`));
  return hit === undefined ? undefined : hit.slice(key.length + 1);
}

/** The final environment: image Env, then the caller's, with PATH, HOSTNAME, HOME and TERM filled in. */
export function containerEnv(image: OciContainerConfig, extra: readonly string[], opts: { hostname: string; home: string; tty: boolean }): string[] {
  const defaults = [`PATH=${DEFAULT_PATH}`, `HOSTNAME=${opts.hostname}`];
  const env = mergeEnv(defaults, image.Env ?? [], extra);
  if (envValue(env, 'HOME') === undefined) env.push(`HOME=${opts.home}`);
  if (opts.tty && envValue(env, 'TERM') === undefined) env.push('TERM=xterm');
  return env;
}

/** Paths to try for argv[0], in order: itself when it has a slash, else each $PATH entry. */
export function execCandidates(argv0: string, env: readonly string[], cwd: string): string[] {
  if (argv0.includes('/')) return [posix.resolve(cwd, argv0)];
  const path = envValue(env, 'PATH') ?? DEFAULT_PATH;
  return path.split(':').map((dir) => posix.join(posix.resolve(cwd, dir || '.'), argv0));
}

export function workingDir(image: OciContainerConfig, override?: string): string {
  const dir = override ?? image.WorkingDir ?? '/';
  if (!dir.startsWith('/')) throw new TsbuildError('E_BAD_WORKDIR', `the working directory must be an absolute path: "${dir}"`, { exitCode: ExitCode.internal });
  return posix.normalize(dir || '/');
}
