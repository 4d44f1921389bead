#!/usr/bin/env node
// Rootless per-step cost (issue 14): the per-step build (N × `RUN echo`,
// --no-cache, base loaded) run as an unprivileged user with subordinate
// ids, by tsbuild (re-executing itself in a user namespace) and by rootless
// buildah (`--storage-driver overlay`) as that same user, alternating; tsbuild
// as root is measured in the same rounds for the cost of rootless mode itself.
// Wall time and CPU (user+sys of the whole process tree, from /usr/bin/time).
// Run as root (it creates and removes the user): node bench/rootless.mjs [--quick] [--runs N]
import { execFileSync, spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeBusyboxLayout } from '../scripts/make-busybox-image.mjs';
import { alternate, median, report, runMain } from './lib/measure.mjs';
import { TSBUILD_BIN } from './lib/tsbuild.mjs';
import { createSubidUser, removeUser } from '../scripts/lib/subid-user.mjs';

const PREFIX = 'tsbbench';

/** Users an earlier run killed with -9 left behind (named PREFIX + pid of a dead bench). */
function removeStaleUsers() {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const name = line.split(':')[0];
    const m = name && new RegExp(`^${PREFIX}(\\d+)$`).exec(name);
    if (!m) continue;
    try { process.kill(Number(m[1]), 0); continue; } catch { /* gone */ }
    removeUser(name);
  }
}

/** The bench's user, named after this process so that a later run knows when it is stale. */
function createUser() {
  return createSubidUser(`${PREFIX}${process.pid}`, { subStart: 3_000_000_000 + randomInt(10_000) * 65536, reach: TSBUILD_BIN });
}

/** Runs argv as `user` (or as root when user is undefined) under /usr/bin/time: {ms, cpuMs}. */
// Every file of a run lives in the user's home (removed with the user, also
// by the next run after a kill -9): other benchmarks remove /tmp/tsbuild-bench-*
// dirs they do not own.
let timeDir;

function timed(user, argv, env = {}) {
  const timeFile = join(timeDir, 't');
  const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  const cmd = ['/usr/bin/time', '-o', timeFile, '-f', '%U %S', ...argv];
  const full = user ? ['runuser', '-u', user.name, '--', 'env', `HOME=${user.home}`, ...envArgs, ...cmd] : ['env', ...envArgs, ...cmd];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(full[0], full.slice(1), { encoding: 'utf8', cwd: user?.home ?? '/', timeout: 600_000 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const [u, s] = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1).split(' ').map(Number);
  if (r.status !== 0) throw new Error(`${argv.join(" ")}: exit ${r.status} ${r.signal} ${r.error?.message ?? ""}: ${r.stderr.slice(-500)}`);
  return { ms, cpuMs: (u + s) * 1000 };
}

export async function main(opts) {
  const steps = opts.quick ? 3 : 20;
  const runs = opts.quick ? 1 : (opts.runs ?? 5);
  removeStaleUsers();
  const user = createUser();
  // Its home is the workspace: the smoke test checks that nothing of it outlives the run.
  process.stderr.write(`bench: workspace ${user.home}\n`);
  const rootStore = join(user.home, 'root-store');
  try {
    timeDir = join(user.home, 'time');
    mkdirSync(timeDir, { mode: 0o777 });
    chmodSync(timeDir, 0o777); // /usr/bin/time runs as the user too
    const layout = join(user.home, 'bb');
    await writeBusyboxLayout(layout, join(user.home, 'bb-rootfs'));
    const lines = ['FROM docker.io/library/busybox:stable'];
    for (let i = 1; i <= steps; i++) lines.push(`RUN echo step${i} > /step${i}`);
    const ctx = join(user.home, 'ctx');
    mkdirSync(ctx);
    writeFileSync(join(ctx, 'Containerfile'), `${lines.join('\n')}\n`);
    execFileSync('chown', ['-R', `${user.uid}:${user.gid}`, layout, ctx]);
    mkdirSync(rootStore, { mode: 0o755 });
    const bah = ['buildah', '--root', join(user.home, 'buildah/root'), '--runroot', join(user.home, 'buildah/run'), '--storage-driver', 'overlay'];
    // Without these, rootless buildah keeps its runtime and cache dirs in /tmp and /var/tmp.
    const bahEnv = { TMPDIR: join(user.home, 'tmp'), XDG_RUNTIME_DIR: join(user.home, 'run') };
    for (const d of Object.values(bahEnv)) {
      mkdirSync(d, { mode: 0o700 });
      chownSync(d, user.uid, user.gid);
    }
    // The base in every store, as in per-step ("base already pulled").
    timed(user, [TSBUILD_BIN, 'load', '-i', layout]);
    timed(undefined, [TSBUILD_BIN, '--root', rootStore, 'load', '-i', layout]);
    const id = spawnSync('runuser', ['-u', user.name, '--', 'env', `HOME=${user.home}`, `TMPDIR=${bahEnv.TMPDIR}`, `XDG_RUNTIME_DIR=${bahEnv.XDG_RUNTIME_DIR}`, ...bah, 'pull', '-q', `oci:${layout}`], { encoding: 'utf8', cwd: user.home }).stdout.trim().split('\n').at(-1);
    timed(user, [...bah, 'tag', id, 'docker.io/library/busybox:stable'], bahEnv);
    const build = ['build', '--no-cache', '--network', 'none', '-t', 'bench/rootless:latest', '-f', join(ctx, 'Containerfile'), ctx];
    const cpu = { tsbuild: [], buildah: [], 'tsbuild-root': [] };
    const contender = (name, fn) => ({ name, run: async () => { const r = fn(); cpu[name].push(r.cpuMs); return r.ms; } });
    const results = await alternate([
      contender('tsbuild', () => timed(user, [TSBUILD_BIN, ...build])),
      contender('buildah', () => timed(user, [...bah, 'bud', '--runtime', '/usr/sbin/runc', '--layers', '--no-cache', '--pull=false', '--network', 'none', '-t', 'bench/rootless:latest', '-f', join(ctx, 'Containerfile'), ctx], bahEnv)),
      contender('tsbuild-root', () => timed(undefined, [TSBUILD_BIN, '--root', rootStore, ...build])),
    ], runs);
    const records = report('rootless', `${steps} RUN steps as an unprivileged user, --no-cache, base loaded; ${runs} run(s) each, alternating (tsbuild-root: the same build as root)`, results, { buildah: undefined, 'tsbuild-root': undefined }, opts);
    for (const [name, xs] of Object.entries(cpu)) process.stdout.write(`  cpu ${name.padEnd(12)} median ${(median(xs) / 1000).toFixed(3)} s (user+sys)   per step ${(median(xs) / steps).toFixed(1)} ms\n`);
    process.stdout.write(`ratio: rootless cpu tsbuild/buildah ${(median(cpu.tsbuild) / median(cpu.buildah)).toFixed(3)}  tsbuild/tsbuild-root ${(median(cpu.tsbuild) / median(cpu['tsbuild-root'])).toFixed(3)}\n`);
    return records;
  } finally {
    user.remove();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runMain(main);
