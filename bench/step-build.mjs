#!/usr/bin/env node
// Diagnostic for issue 12: where does a cold build's big RUN step lose to
// BuildKit's? The same workload (default: the go service's apt-get install
// golang-go) runs as the only RUN step of `FROM bookworm`, built cold by
// tsbuild and by BuildKit, alternating, with --network host. Inside the
// step the workload prints its own wall time (date before and after) and its
// children's CPU (bash's `times`), so each build splits into
//   inside:  what the workload itself took in the container, and its CPU;
//   outside: the rest of the build (base pull and unpack, mounts, commit).
// A gap inside with equal CPU is waiting (disk, network); a gap in CPU is
// work the container makes the workload do. No target; not in bench/run.mjs.
//   node bench/step-build.mjs [--runs N]     (default 3 runs each)
//   STEP_CMD='...' overrides the workload.
//   STEP_SETTLE=1: after each wipe, sync and wait 31 s before the build, so
//   that no inode the wipe freed is still "recently deleted" (see below).
import { pushBookworm } from './lib/bookworm.mjs';
import { loadLine, printMachine } from './lib/machine.mjs';
import { alternate, median, report, runMain } from './lib/measure.mjs';
import { buildkitContender, setup, writeContainerfile } from './lib/setup.mjs';
import { childTimes } from './step-runtime.mjs';
import { run } from '../scripts/lib/proc.mjs';

const DEFAULT_CMD = 'apt-get update && apt-get install -y --no-install-recommends golang-go && rm -rf /var/lib/apt/lists/*';

/** The workload's own wall seconds (STEPWALL line) and its children's CPU, from a build's output. */
export function insideFigures(output) {
  const wall = /STEPWALL ([\d.]+)/.exec(output);
  // bash's `times` prints the shell's line, then its children's: the last such line.
  const times = output.split('\n').filter((l) => /\d+m[\d.]+s \d+m[\d.]+s\s*$/.test(l));
  if (!wall || times.length === 0) throw new Error(`no STEPWALL or \`times\` line in the build's output:\n${output.slice(-2000)}`);
  const t = childTimes(times.at(-1).replace(/^.*?(\d+m[\d.]+s \d+m[\d.]+s)\s*$/, '$1'));
  return { wallS: Number(wall[1]), cpuS: t.user + t.sys, user: t.user, sys: t.sys };
}

export async function main(opts) {
  const runs = opts.quick ? 1 : (opts.runs ?? 3);
  const cmd = process.env.STEP_CMD ?? DEFAULT_CMD;
  const env = await setup('step-build');
  try {
    printMachine('start');
    const base = await pushBookworm(env);
    const script = `s=$(date +%s.%N); ${cmd}; e=$(date +%s.%N); awk "BEGIN{print \\"STEPWALL\\", $e - $s}"; times`;
    const file = writeContainerfile(env.ws, 'Containerfile.step', `FROM ${base}\nRUN ["bash", "-c", ${JSON.stringify(script)}]\n`);
    const context = env.ws.path('ctx', { mkdir: true });
    const inside = { tsbuild: [], buildkit: [] };
    const timed = (name, fn) => async () => {
      const r = await fn();
      const f = insideFigures(`${r.stdout}\n${r.stderr}`);
      inside[name].push(f);
      process.stderr.write(`  ${name}: inside ${f.wallS.toFixed(2)} s (user ${f.user.toFixed(2)}, sys ${f.sys.toFixed(2)}), outside ${(r.ms / 1000 - f.wallS).toFixed(2)} s\n`);
      return r.ms;
    };
    const settle = async () => {
      if (process.env.STEP_SETTLE !== '1') return;
      await run('/usr/bin/sync', []);
      await new Promise((r) => setTimeout(r, 31_000));
    };
    const results = await alternate([
      { name: 'tsbuild', prepare: async () => { env.tsbuild.wipe(); await settle(); }, run: timed('tsbuild', () => env.tsbuild.cmd(['build', '--progress', 'plain', '--network', 'host', '-f', file, context])) },
      buildkitContender(env, { prepare: async () => { await env.buildkit.wipe(); await settle(); }, run: timed('buildkit', () => env.buildkit.build({ file, context, network: 'host' })) }),
    ], runs);
    const records = report('step-build', `\`${cmd}\` as the one RUN of a cold build, tsbuild vs BuildKit; ${runs} run(s) each, alternating`, results, { buildkit: undefined }, opts);
    const m = (name, k) => median(inside[name].map((f) => f[k]));
    for (const k of ['wallS', 'cpuS', 'user', 'sys']) {
      const [t, b] = [m('tsbuild', k), m('buildkit', k)];
      process.stdout.write(`  inside ${k.padEnd(5)} (median): tsbuild ${t.toFixed(2)} s, BuildKit ${b.toFixed(2)} s, ratio ${(t / b).toFixed(3)}\n`);
    }
    process.stdout.write(`  ${loadLine()}\n`);
    printMachine('end');
    return records;
  } finally {
    await env.ws.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runMain(main);
