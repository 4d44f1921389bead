// Where tsbuild's time goes: the `done` events of `--progress json` carry
// each executed step's durationMs and the executor's timings (run, copy,
// commit). Grouped by instruction, averaged over the runs, with what the
// timings do not cover shown as "untimed" (inside a step) and "outside
// steps" (process start, module loading, base image, writing the image).
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
