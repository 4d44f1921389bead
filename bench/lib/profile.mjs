// Profiling aids for a missed target (`--profile`): one extra tsbuild run
// under `node --cpu-prof` summarised by self time (per function and per
// module), and `perf stat` of whole command trees (the container
// processes and runc children are counted with their tool), so that CPU
// time can be compared where wall time hides it (2 shared cores).
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { run } from '../../scripts/lib/proc.mjs';
import { REPO } from './tsbuild.mjs';

/** Self time per call frame from a .cpuprofile; returns [{key, ms}] sorted, and per-module totals. */
export function summariseCpuProfile(path) {
  const prof = JSON.parse(readFileSync(path, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map();
  for (let i = 0; i < prof.samples.length; i++) {
    const id = prof.samples[i];
    self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0) / 1000);
  }
  const fns = new Map();
  const modules = new Map();
  for (const [id, ms] of self) {
    const cf = byId.get(id).callFrame;
    let url = cf.url.replace(/^file:\/\//, '');
    if (url.startsWith(REPO)) url = relative(REPO, url);
    const key = `${cf.functionName || '(anonymous)'} ${url ? `${url}:${cf.lineNumber + 1}` : ''}`.trim();
    fns.set(key, (fns.get(key) ?? 0) + ms);
    let mod = url || cf.functionName;
    const nm = mod.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
    if (nm) mod = `npm:${nm[1]}`;
    else if (mod.startsWith('node:')) mod = 'node internals';
    modules.set(mod, (modules.get(mod) ?? 0) + ms);
  }
  const sorted = (m) => [...m].map(([key, ms]) => ({ key, ms })).sort((a, b) => b.ms - a.ms);
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  return { total, functions: sorted(fns), modules: sorted(modules) };
}

/** Runs `fn` (a tsbuild command) under --cpu-prof and prints the top frames and modules. */
export async function cpuProfile(tsbuild, dir, label, fn) {
  mkdirSync(dir, { recursive: true });
  tsbuild.nodeFlags = ['--cpu-prof', '--cpu-prof-dir', dir];
  try {
    await fn();
  } finally {
    tsbuild.nodeFlags = [];
  }
  const file = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort().at(-1);
  if (!file) return;
  const s = summariseCpuProfile(join(dir, file));
  const lines = [`  cpu profile of tsbuild (${label}): ${s.total.toFixed(0)} ms sampled on the main thread`];
  lines.push('    by module (self ms): ' + s.modules.slice(0, 8).map((m) => `${m.key} ${m.ms.toFixed(0)}`).join(', '));
  lines.push('    top functions (self ms):');
  for (const f of s.functions.slice(0, 12)) lines.push(`      ${f.ms.toFixed(1).padStart(8)}  ${f.key}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** `perf stat` of a command tree: {taskClockMs, contextSwitches, pageFaults, wallMs}, or undefined without perf. */
export async function perfStat(cmd, args, opts = {}) {
  const r = await run('perf', ['stat', '-x,', '-e', 'task-clock,context-switches,page-faults', '--', cmd, ...args], { ...opts, allowFail: true });
  if (r.code !== 0) return undefined;
  const get = (ev) => {
    const line = r.stderr.split('\n').find((l) => l.split(',')[2] === ev);
    return line ? Number(line.split(',')[0]) : NaN;
  };
  return { taskClockMs: get('task-clock'), contextSwitches: get('context-switches'), pageFaults: get('page-faults'), wallMs: r.ms };
}

/**
 * `--profile` for a build scenario: one tsbuild build under --cpu-prof, then
 * perf stat of one tsbuild and one buildah build. `before` runs ahead of
 * each (a wipe for cold builds).
 */
export async function profileBuild(env, label, spec, { before = async () => {}, buildahSpec = spec } = {}) {
  await before();
  await cpuProfile(env.tsbuild, env.ws.path(`profile-${label.replace(/\W+/g, '-')}`), label, () => env.tsbuild.build(spec));
  await before();
  const tsbuild = await perfStat(...env.tsbuild.argv(env.tsbuild.buildArgs(spec)));
  const buildah = await perfStat(...env.buildah.argv(env.buildah.buildArgs(buildahSpec)));
  printPerf(label, [['tsbuild', tsbuild], ['buildah', buildah]]);
}

/** Prints perf stat figures of several contenders side by side. */
export function printPerf(label, rows) {
  const lines = [`  perf stat (${label}; CPU time of the whole command tree):`];
  for (const [name, p] of rows) {
    if (!p) lines.push(`    ${name.padEnd(12)} perf stat not available`);
    else lines.push(`    ${name.padEnd(12)} cpu ${p.taskClockMs.toFixed(0)} ms, wall ${p.wallMs.toFixed(0)} ms, ${p.contextSwitches} context switches, ${p.pageFaults} page faults`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}
