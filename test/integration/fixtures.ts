// Paths and helpers shared by integration tests.
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { storeTag } from '../../src/run/cgroups.js';

export const repoDir = resolve(import.meta.dirname, '../..');
// One fixtures dir per checkout, so test runs of two work trees never remove each other's.
export const fixturesDir = `/tmp/tsbuild-test-fixtures-${createHash('sha256').update(repoDir).digest('hex').slice(0, 8)}`;
export const busyboxRootfs = join(fixturesDir, 'busybox-rootfs');
/** An OCI layout of busyboxRootfs, named docker.io/library/busybox:stable: `tsbuild load -i` it. */
export const busyboxLayout = join(fixturesDir, 'busybox-layout');
export const tsbuildBin = join(repoDir, 'bin/tsbuild.js');

/** Run the real CLI (as a user would) with a given --root. */
export function tsbuild(root: string, args: string[], opts: { input?: string; timeout?: number; env?: NodeJS.ProcessEnv } = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [tsbuildBin, '--root', root, ...args], {
    encoding: 'utf8',
    input: opts.input ?? '',
    timeout: opts.timeout ?? 60_000,
    env: opts.env ?? process.env,
  });
}

/** Start the CLI without waiting (for detached-style checks, signals and kill -9). */
export function tsbuildAsync(root: string, args: string[]): ChildProcess {
  return spawn(process.execPath, [tsbuildBin, '--root', root, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Collect a child's stdout/stderr and exit status. */
export function finished(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => { stdout += d; });
  child.stderr?.on('data', (d) => { stderr += d; });
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A fresh store root under /tmp, removed by the returned cleanup. */
export function tempRoot(prefix: string): { root: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), `tsbuild-${prefix}-`));
  // mkdtemp makes 0700; a user-namespaced container's root must traverse it, as with /var/lib/tsbuild.
  chmodSync(root, 0o755);
  return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/**
 * The set-up most integration files share: a fresh store with busybox:stable
 * loaded (from the fixtures' OCI layout) and a work dir for contexts, both
 * under /tmp; `cleanup` removes both. A failed load fails the file.
 */
export function busyboxStore(prefix: string): { root: string; work: string; cleanup: () => void } {
  const store = tempRoot(prefix);
  const work = mkdtempSync(join(tmpdir(), `tsbuild-${prefix}-work-`));
  const cleanup = () => {
    store.cleanup();
    rmSync(work, { recursive: true, force: true });
  };
  const loaded = tsbuild(store.root, ['load', '-i', busyboxLayout]);
  if (loaded.status !== 0) {
    cleanup();
    throw new Error(`tsbuild load -i ${busyboxLayout}: ${loaded.stderr}`);
  }
  return { root: store.root, work, cleanup };
}

/** Lines of /proc/mounts that mention `needle`. */
/** cgroups of this store's containers (tsbuild/<store tag>-<id>) on any controller or the v2 tree. */
export function storeCgroups(root: string): string[] {
  const dirs = ['pids', 'memory', 'cpu', 'cpuset', 'unified', ''].map((c) => join('/sys/fs/cgroup', c, 'tsbuild'));
  return dirs.flatMap((d) => (existsSync(d) ? readdirSync(d).filter((n) => n.startsWith(`${storeTag(root)}-`)).map((n) => join(d, n)) : []));
}

export function hostMountsMentioning(needle: string): string[] {
  return readFileSync('/proc/mounts', 'utf8').split('\n').filter((l) => l.includes(needle));
}

/** One-line error, no stack trace: what every failure must look like. */
export function expectOneLineError(stderr: string): void {
  const lines = stderr.trim().split('\n');
  if (lines.length !== 1 || !lines[0]?.startsWith('tsbuild: ') || /\n\s+at /.test(stderr)) {
    throw new Error(`expected one "tsbuild: ..." line, got:\n${stderr}`);
  }
}
