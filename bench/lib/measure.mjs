// Measuring and reporting. Every figure is a ratio of medians measured in
// the same run, with the tools alternating (A B C A B C …) so that load
// from whatever else shares the machine falls on all of them alike.
// Output lines that start with "ratio:" are the results; CI's smoke test
// looks for them (never at their values).
import { appendFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** Options shared by every benchmark script: --quick, --runs N, --json FILE, --profile, --strict. */
export function parseOptions(argv = process.argv.slice(2)) {
  const opts = {
    quick: process.env.BENCH_QUICK === '1',
    runs: process.env.BENCH_RUNS ? Number(process.env.BENCH_RUNS) : undefined,
    json: process.env.BENCH_JSON,
    profile: process.env.BENCH_PROFILE === '1',
    strict: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') opts.quick = true;
    else if (a === '--runs') opts.runs = Number(argv[++i]);
    else if (a === '--json') opts.json = argv[++i];
    else if (a === '--profile') opts.profile = true;
    else if (a === '--strict') opts.strict = true;
    else if (a === '--help' || a === '-h') {
      process.stdout.write('options: --quick (one run, tiny inputs: the CI smoke mode; or BENCH_QUICK=1)\n'
        + '         --runs N (runs per tool; or BENCH_RUNS)  --json FILE (append results; or BENCH_JSON)\n'
        + '         --profile (one extra tsbuild run under --cpu-prof and perf stat)  --strict (exit 1 on a missed target)\n');
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  if (opts.runs !== undefined && !(opts.runs >= 1)) throw new Error('--runs needs a positive number');
  return opts;
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export const fmtS = (ms) => `${(ms / 1000).toFixed(ms < 10_000 ? 3 : 2)} s`;

/**
 * Runs each contender `runs` times, alternating. A contender is
 * {name, available?, reason?, prepare?(i), run(i) → ms | {ms, ...}, after?(i)};
 * prepare/after are not timed. Returns {name: {samples, extras, median}}.
 */
export async function alternate(contenders, runs, log = (s) => process.stderr.write(`${s}\n`)) {
  const results = {};
  const active = contenders.filter((c) => c.available !== false);
  for (const c of contenders) results[c.name] = { samples: [], extras: [], available: c.available !== false, reason: c.reason };
  for (let i = 0; i < runs; i++) {
    // The order rotates each round (A B C, B C A, C A B, ...): whoever runs first meets a cold
    // proxy, page cache or mirror more often, and that must not always be the same tool.
    const order = active.map((_, k) => active[(k + i) % active.length]);
    for (const c of order) {
      if (c.prepare) await c.prepare(i);
      const r = await c.run(i);
      const ms = typeof r === 'number' ? r : r.ms;
      results[c.name].samples.push(ms);
      results[c.name].extras.push(typeof r === 'number' ? {} : r);
      if (c.after) await c.after(i);
      log(`  run ${i + 1}/${runs} ${c.name}: ${fmtS(ms)}`);
    }
  }
  for (const r of Object.values(results)) r.median = r.samples.length ? median(r.samples) : undefined;
  return results;
}

/**
 * Prints a scenario's medians and ratios (tsbuild over each peer) with its
 * targets, and returns the records for the summary. `targets` maps a peer
 * name to the highest acceptable ratio (or undefined: reported, no target).
 */
export function report(scenario, title, results, targets, opts) {
  const out = [];
  out.push(`\n== ${scenario}: ${title}`);
  for (const [name, r] of Object.entries(results)) {
    if (!r.available) {
      out.push(`  ${name.padEnd(12)} not run: ${r.reason}`);
      continue;
    }
    out.push(`  ${name.padEnd(12)} median ${fmtS(r.median).padStart(9)}   runs: ${r.samples.map((s) => (s / 1000).toFixed(3)).join(' ')}`);
  }
  const records = [];
  const base = results.tsbuild;
  for (const [peer, target] of Object.entries(targets)) {
    const r = results[peer];
    const rec = { scenario, peer, target, nproc: cpus().length, runs: base.samples.length, quick: opts.quick, date: new Date().toISOString() };
    if (!r || !r.available || base.median === undefined) {
      rec.ratio = null;
      rec.met = null;
      out.push(`ratio: ${scenario} tsbuild/${peer} n/a (${r ? r.reason : 'not measured'})${target !== undefined ? `  target <= ${target}: not checked` : ''}`);
    } else {
      rec.ratio = base.median / r.median;
      rec.tsbuildMs = base.median;
      rec.peerMs = r.median;
      rec.met = target === undefined ? null : rec.ratio <= target;
      // Each round's own ratio (the tools ran back to back), as a check on the ratio of medians under changing load.
      const paired = base.samples.map((t, i) => t / r.samples[i]);
      rec.pairedMedian = median(paired);
      rec.rounds = paired;
      const verdict = target === undefined ? 'no target' : `target <= ${target}: ${rec.met ? 'met' : 'MISSED'}`;
      out.push(`ratio: ${scenario} tsbuild/${peer} ${rec.ratio.toFixed(3)}  (${fmtS(base.median)} vs ${fmtS(r.median)}; per-round ratios ${Math.min(...paired).toFixed(2)}-${Math.max(...paired).toFixed(2)}, median ${rec.pairedMedian.toFixed(3)})  ${verdict}${opts.quick ? '  [quick mode: not a measurement]' : ''}`);
    }
    records.push(rec);
  }
  process.stdout.write(`${out.join('\n')}\n`);
  if (opts.json) for (const rec of records) appendFileSync(opts.json, `${JSON.stringify(rec)}\n`);
  return records;
}

/** Runs a benchmark's main with the workspace closed afterwards; sets the exit code. */
export async function runMain(main) {
  let code = 0;
  try {
    const records = await main(parseOptions());
    const strict = process.argv.includes('--strict');
    if (strict && records.some((r) => r.met === false)) code = 1;
  } catch (e) {
    process.stderr.write(`bench: ${e.stack ?? e}\n`);
    code = 1;
  }
  process.exitCode = code;
}
