// Where tsbuild's time goes: the `done` events of `--progress json` carry
// each executed step's durationMs and the executor's timings (run, copy,
// commit). Grouped by instruction, averaged over the runs, with what the
// timings do not cover shown as "untimed" (inside a step) and "outside
// steps" (process start, module loading, base image, writing the image).
import { buildkitStepsOf, stepMatchKey } from './buildkit-steps.mjs';
import { median } from './measure.mjs';

function kindOf(text) {
  return (text ?? '').trim().split(/\s+/)[0]?.toUpperCase() || '?';
}

/** One build's events → {steps: [{kind, durationMs, timings}], stepsMs, cached}. */
export function stepsOf(events) {
  const texts = new Map();
  const steps = [];
  let cached = 0;
  for (const e of events) {
    if (e.type === 'step') texts.set(`${e.stage}/${e.n}`, e.text);
    else if (e.type === 'cached') cached++;
    else if (e.type === 'done' && e.timings && Object.keys(e.timings).length > 0) {
      const text = texts.get(`${e.stage}/${e.step}`);
      steps.push({ kind: kindOf(text), text: `${e.stage}: ${(text ?? '?').trim()}`, durationMs: e.durationMs, timings: e.timings });
    }
  }
  return { steps, stepsMs: steps.reduce((a, s) => a + s.durationMs, 0), cached };
}

/**
 * Prints the breakdown of several runs of the same build (`runs`: [{wallMs,
 * events}]). `steps: N` also lists the N slowest steps one by one (a real
 * build's cost sits in a few of them: apt-get, go build, npm ci).
 */
export function printBreakdown(label, runs, { steps: slowest = 0 } = {}) {
  const perRun = runs.map((r) => ({ ...stepsOf(r.events), wallMs: r.wallMs }));
  const byKind = new Map();
  for (const run of perRun) {
    for (const s of run.steps) {
      const k = byKind.get(s.kind) ?? { n: 0, durationMs: 0, parts: {} };
      k.n++;
      k.durationMs += s.durationMs;
      for (const [name, ms] of Object.entries(s.timings)) k.parts[name] = (k.parts[name] ?? 0) + ms;
      byKind.set(s.kind, k);
    }
  }
  const lines = [`  tsbuild breakdown (${label}; mean per executed step over ${runs.length} run(s)):`];
  for (const [kind, k] of byKind) {
    const parts = Object.entries(k.parts).map(([name, ms]) => `${name} ${(ms / k.n).toFixed(1)}`);
    const timed = Object.values(k.parts).reduce((a, b) => a + b, 0);
    parts.push(`untimed ${((k.durationMs - timed) / k.n).toFixed(1)}`);
    lines.push(`    ${kind.padEnd(8)} x${(k.n / runs.length).toFixed(0).padEnd(3)} step ${(k.durationMs / k.n).toFixed(1)} ms = ${parts.join(' + ')} ms`);
  }
  if (slowest > 0) {
    const byText = new Map();
    for (const run of perRun) {
      for (const s of run.steps) {
        const t = byText.get(s.text) ?? { n: 0, durationMs: 0, parts: {} };
        t.n++;
        t.durationMs += s.durationMs;
        for (const [name, ms] of Object.entries(s.timings)) t.parts[name] = (t.parts[name] ?? 0) + ms;
        byText.set(s.text, t);
      }
    }
    const top = [...byText].sort((a, b) => b[1].durationMs / b[1].n - a[1].durationMs / a[1].n).slice(0, slowest);
    for (const [text, t] of top) {
      const parts = Object.entries(t.parts).map(([name, ms]) => `${name} ${(ms / t.n / 1000).toFixed(2)}`).join(' + ');
      lines.push(`      ${(t.durationMs / t.n / 1000).toFixed(2).padStart(8)} s  ${text.length > 70 ? `${text.slice(0, 67)}...` : text}  (${parts} s)`);
    }
  }
  const wall = median(perRun.map((r) => r.wallMs));
  const inSteps = median(perRun.map((r) => r.stepsMs));
  lines.push(`    whole build (median): ${wall.toFixed(0)} ms, of which executed steps ${inSteps.toFixed(0)} ms, outside steps ${(wall - inSteps).toFixed(0)} ms (node start, loading, base image, image write)`);
  const cached = perRun[0]?.cached ?? 0;
  if (cached > 0) lines.push(`    cached steps per build: ${cached}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** tsbuild names an unnamed stage by its index, BuildKit as `stage-N`. */
const stageKey = (stage) => (/^\d+$/.test(stage) ? `stage-${stage}` : stage);
const matchKey = (text) => {
  const i = text.indexOf(': ');
  return `${stageKey(text.slice(0, i))}: ${stepMatchKey(text.slice(i + 2))}`;
};

/** Mean ms per step text over runs: Map(key → {text, ms}). */
function meanByText(perRun, msOf) {
  const acc = new Map();
  for (const steps of perRun) {
    for (const s of steps) {
      const k = matchKey(s.text);
      const a = acc.get(k) ?? { text: s.text, total: 0, n: 0 };
      a.total += msOf(s);
      a.n++;
      acc.set(k, a);
    }
  }
  return new Map([...acc].map(([k, a]) => [k, { text: a.text, ms: a.total / perRun.length }]));
}

/**
 * Prints each executed step's mean time in tsbuild and in BuildKit side by
 * side (matched by stage and instruction text), then each tool's time
 * outside steps: for BuildKit its own vertices (base pull, context,
 * export) and what no vertex covers (client, solve set-up).
 * `bkRuns`: [{wallMs, stderr}] of `docker build --progress plain`.
 */
export function printVersus(label, tsRuns, bkRuns) {
  if (tsRuns.length === 0 || bkRuns.length === 0) return;
  const ts = tsRuns.map((r) => ({ ...stepsOf(r.events), wallMs: r.wallMs }));
  const bk = bkRuns.map((r) => ({ ...buildkitStepsOf(r.stderr), wallMs: r.wallMs }));
  const tsBy = meanByText(ts.map((r) => r.steps), (s) => s.durationMs);
  const bkBy = meanByText(bk.map((r) => r.steps), (s) => s.ms);
  const lines = [`  tsbuild vs BuildKit per executed step (${label}; mean s over ${ts.length}/${bk.length} run(s)):`];
  const fmt = (ms) => (ms === undefined ? '     -' : (ms / 1000).toFixed(2).padStart(6));
  for (const k of new Set([...tsBy.keys(), ...bkBy.keys()])) {
    const t = tsBy.get(k);
    const b = bkBy.get(k);
    const text = (t ?? b).text;
    const ratio = t && b && b.ms > 0 ? `  ${(t.ms / b.ms).toFixed(2)}x` : '';
    lines.push(`    ${fmt(t?.ms)} ${fmt(b?.ms)}${ratio.padEnd(8)} ${text.length > 70 ? `${text.slice(0, 67)}...` : text}`);
  }
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const tsOut = mean(ts.map((r) => r.wallMs - r.stepsMs));
  const bkOut = mean(bk.map((r) => r.wallMs - r.stepsMs));
  lines.push(`    outside steps: tsbuild ${(tsOut / 1000).toFixed(2)} s, BuildKit ${(bkOut / 1000).toFixed(2)} s (wall minus the sum of executed steps; both run stages in parallel)`);
  const bkOutside = new Map();
  for (const r of bk) for (const o of r.outside) bkOutside.set(o.text, (bkOutside.get(o.text) ?? 0) + o.ms / bk.length);
  const vertexMs = [...bkOutside.values()].reduce((a, b) => a + b, 0);
  const shown = [...bkOutside].filter(([, ms]) => ms >= 50).map(([t, ms]) => `${t.length > 50 ? `${t.slice(0, 47)}...` : t} ${(ms / 1000).toFixed(2)}`);
  lines.push(`    BuildKit outside steps: ${shown.join('; ') || 'no vertex over 0.05 s'}; no vertex ${((bkOut - vertexMs) / 1000).toFixed(2)} s (client, solver)`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
