// BuildKit as the second oracle of the build tests: docker's BuildKit as
// Debian's docker.io 20.10 embeds it, in a private dockerd
// (scripts/lib/dockerd.mjs, shared with the benchmarks) whose config,
// data-root, exec-root, pidfile, socket and cgroup are its own, under a temp
// dir that stop() removes with everything in it. A test run killed midway
// leaves the dir with a dead owner pid; global-setup's
// cleanupStaleBuildKits removes it, its processes, mounts and cgroup.
// A missing or broken dockerd fails the test: a missing oracle is a failure.
// @ts-expect-error: a plain .mjs module shared with the benchmarks
import { cleanupStaleDockerds, Dockerd } from '../../../scripts/lib/dockerd.mjs';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';

const TMP_PREFIX = 'tsbuild-dockerd-';

interface RunResult { code: number | null; signal: string | null; stdout: string; stderr: string }

interface DockerdHandle {
  dir: string;
  reason: string;
  start(): Promise<boolean>;
  stop(): Promise<void>;
  docker(args: string[], opts?: { allowFail?: boolean; timeoutMs?: number; input?: Buffer; env?: Record<string, string> }): Promise<RunResult>;
  build(o: { file: string; context: string; tag: string; extra?: string[]; allowFail?: boolean }): Promise<RunResult>;
}

export interface BuildKit {
  /** `docker ARGS` against the private daemon; rejects with the output's tail when it fails. */
  docker(args: string[]): Promise<RunResult>;
  /** `docker build`, BuildKit, network none; resolves with the result even when the build fails. */
  build(o: BuildKitBuild): Promise<RunResult>;
  /** `docker save TAG` to a docker-archive at `out`. */
  save(tag: string, out: string): Promise<void>;
  stop(): Promise<void>;
}

export interface BuildKitBuild {
  /** `-f FILE`; omitted when `extra` says where the Dockerfile is (stdin builds). */
  file?: string;
  context: string;
  tag: string;
  buildArgs?: Record<string, string>;
  target?: string;
  extra?: string[];
  /** Bytes for docker's stdin (`-f -`, `docker build -`). */
  input?: Buffer;
  /** Environment of the docker client (bare --build-arg NAME, env secrets). */
  env?: Record<string, string>;
}

/** Starts a private dockerd with BuildKit; throws (with dockerd's log) when it cannot. */
export async function startBuildKit(name: string): Promise<BuildKit> {
  const dir = mkdtempSync(join('/tmp', `${TMP_PREFIX}${name}-`));
  const d = new Dockerd(dir) as DockerdHandle;
  if (!(await d.start())) {
    const why = d.reason;
    await d.stop();
    throw new Error(`BuildKit (dockerd) did not start: ${why}`);
  }
  return {
    docker: (args) => d.docker(args, { timeoutMs: 300_000 }),
    build: (o) => {
      const extra = [...Object.entries(o.buildArgs ?? {}).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]), ...(o.target ? ['--target', o.target] : []), ...(o.extra ?? [])];
      if (o.file !== undefined && o.input === undefined && o.env === undefined) return d.build({ file: o.file, context: o.context, tag: o.tag, extra, allowFail: true });
      // Dockerd.build's own flags, with stdin and the client's environment.
      const args = ['build', '--network', 'none', '--progress', 'plain', ...(o.file !== undefined ? ['-f', o.file] : []), '-t', o.tag, ...extra, o.context];
      return d.docker(args, { allowFail: true, timeoutMs: 300_000, ...(o.input ? { input: o.input } : {}), ...(o.env ? { env: o.env } : {}) });
    },
    save: async (tag, out) => {
      await d.docker(['save', '-o', out, tag], { timeoutMs: 300_000 });
    },
    stop: () => d.stop(),
  };
}

/** Removes the dockerds (and all they left) of test runs that were killed. */
export function cleanupStaleBuildKits(): void {
  (cleanupStaleDockerds as (prefix: string) => void)(TMP_PREFIX);
}
