// buildah as the oracle of the build tests: Debian's buildah with runc, the
// overlay driver and `--layers`, in its own --root/--runroot under a temp
// dir so that a test file is isolated and leaves nothing behind. The busybox
// base goes in from the same OCI layout tsbuild loads, tagged
// docker.io/library/busybox:stable, so `FROM busybox:stable` resolves to the
// same bytes in both tools and neither touches the network.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxLayout } from '../fixtures.js';

export interface Buildah {
  dir: string;
  run(args: string[], opts?: RunOptions): SpawnSyncReturns<string>;
  /** Like run, but throws with buildah's stderr when it fails. */
  ok(args: string[], opts?: { timeout?: number }): string;
  cleanup(): void;
}

export interface RunOptions {
  timeout?: number;
  /** Bytes for buildah's stdin (`-f -`, `bud -`). */
  input?: Buffer | string;
  /** Environment overrides (bare --build-arg NAME, env secrets). */
  env?: Record<string, string>;
}

export function buildahStore(prefix: string): Buildah {
  const dir = mkdtempSync(join(tmpdir(), `tsbuild-buildah-${prefix}-`));
  const globals = ['--root', join(dir, 'root'), '--runroot', join(dir, 'runroot'), '--storage-driver', 'overlay'];
  // buildah keeps RUN --mount=type=cache dirs under $TMPDIR/buildah-cache (/var/tmp by default),
  // where they outlived the tests: here they go with the store's dir.
  const tmp = join(dir, 'tmp');
  mkdirSync(tmp, { recursive: true });
  const run = (args: string[], opts: RunOptions = {}): SpawnSyncReturns<string> => {
    // buildah opens /dev/stdin for `-f -`, which fails (ENXIO) on the socket
    // node gives a child for `input`: its stdin is a file instead, as a shell's `<` gives.
    let stdinFd: number | undefined;
    if (opts.input !== undefined) {
      const path = join(dir, 'stdin');
      writeFileSync(path, opts.input);
      stdinFd = openSync(path, 'r');
    }
    try {
      return spawnSync('buildah', [...globals, ...args], {
        encoding: 'utf8',
        timeout: opts.timeout ?? 120_000,
        maxBuffer: 1 << 26,
        stdio: [stdinFd ?? 'pipe', 'pipe', 'pipe'],
        env: { ...process.env, ...(opts.env ?? {}), BUILDAH_ISOLATION: 'oci', TMPDIR: tmp },
      });
    } finally {
      if (stdinFd !== undefined) {
        closeSync(stdinFd);
        rmSync(join(dir, 'stdin'));
      }
    }
  };
  const ok = (args: string[], opts: { timeout?: number } = {}): string => {
    const r = run(args, opts);
    if (r.status !== 0) throw new Error(`buildah ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stderr}\n${r.stdout}`);
    return r.stdout;
  };
  return {
    dir,
    run,
    ok,
    cleanup() {
      run(['rm', '-a']);
      run(['rmi', '-a', '-f']);
      // buildah's overlay driver keeps its layer mounts (and a shm mount of
      // runroot) until unmounted: unmount whatever is left under the dir.
      const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(dir)).map((m) => m.replace(/\\040/g, ' '));
      for (const m of mounts.sort((a, b) => b.length - a.length)) spawnSync('umount', ['-R', m]);
      for (const m of mounts) spawnSync('umount', ['-l', m]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Puts the busybox fixture in as docker.io/library/busybox:stable. */
export function loadBusybox(b: Buildah): void {
  const id = b.ok(['pull', '-q', `oci:${busyboxLayout}`]).trim().split('\n').at(-1) as string;
  b.ok(['tag', id, 'docker.io/library/busybox:stable']);
}

export interface BudOptions {
  /** `-f FILE`; omitted when the flags in `extra` say where the Containerfile is (stdin builds). */
  file?: string;
  tag: string;
  context: string;
  buildArgs?: Record<string, string>;
  target?: string;
  /** buildah's default is OCI, which drops ONBUILD: parents with triggers need `docker`. */
  format?: 'oci' | 'docker';
  noCache?: boolean;
  extra?: string[];
  input?: Buffer;
  env?: Record<string, string>;
}

export function bud(b: Buildah, o: BudOptions): SpawnSyncReturns<string> {
  const args = ['bud', '--runtime', '/usr/sbin/runc', '--layers', '--pull=false', ...(o.file ? ['-f', o.file] : []), '-t', o.tag];
  for (const [k, v] of Object.entries(o.buildArgs ?? {})) args.push('--build-arg', `${k}=${v}`);
  if (o.target) args.push('--target', o.target);
  if (o.format) args.push('--format', o.format);
  if (o.noCache) args.push('--no-cache');
  args.push(...(o.extra ?? []));
  args.push(o.context);
  return b.run(args, { timeout: 300_000, ...(o.input ? { input: o.input } : {}), ...(o.env ? { env: o.env } : {}) });
}

/** `buildah push IMG oci:DIR`: the same OCI layout form as `tsbuild save --format oci-dir`. */
export function pushOciDir(b: Buildah, image: string, dir: string): void {
  b.ok(['push', '-q', image, `oci:${dir}`]);
}
