#!/usr/bin/env node
// `npm run bench`: every scenario, one after the other, each in its own
// process (its own workspace, registry and dockerd, all removed when it
// ends), then one summary of every ratio and target.
//   node bench/run.mjs [--quick] [--runs N] [--profile] [--strict] [--only per-step,pull-push]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';

export const SCRIPTS = ['per-step', 'large-context', 'cold-build', 'cached-rebuild', 'pull-push', 'pull-many-files', 'depth', 'multi-platform', 'fresh-runner', 'rootless', 'real-service', 'scaling'];

const argv = process.argv.slice(2);
let only = SCRIPTS;
const pass = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--only') only = argv[++i].split(',');
  else if (argv[i] === '--json') throw new Error('--json is per script; run.mjs prints the summary itself');
  else pass.push(argv[i]);
}
for (const s of only) if (!SCRIPTS.includes(s)) throw new Error(`unknown benchmark ${s} (one of ${SCRIPTS.join(', ')})`);

const tmp = mkdtempSync(join(tmpdir(), 'bench-results-'));
const json = join(tmp, 'results.jsonl');
const failed = [];
const started = new Date();
for (const name of only) {
  process.stdout.write(`\n### bench/${name}.mjs ${pass.join(' ')}\n`);
  const code = await new Promise((resolve) => {
    const child = spawn(process.execPath, [join(import.meta.dirname, `${name}.mjs`), ...pass, '--json', json], { stdio: 'inherit' });
    const forward = (sig) => child.kill(sig);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.on('close', (c, sig) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(sig ? 128 : c);
    });
  });
  if (code !== 0) failed.push(`${name} (exit ${code})`);
}

let records = [];
try {
  records = readFileSync(json, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
} catch { /* no scenario got as far as a result */ }
rmSync(tmp, { recursive: true, force: true });
const quick = pass.includes('--quick') || process.env.BENCH_QUICK === '1';
const lines = [`\n## Summary (${started.toISOString().slice(0, 10)}, ${cpus().length} cores${quick ? ', QUICK MODE: sizes too small to mean anything' : ''})`];
lines.push(`${'scenario'.padEnd(20)} ${'ratio'.padEnd(20)}  value  target   met      per-round ratios`);
for (const r of records) {
  const value = r.ratio === null ? 'n/a' : r.ratio.toFixed(3);
  const target = r.target === undefined ? '-' : `<= ${r.target}`;
  const met = r.met === null ? (r.ratio === null ? 'not run' : '-') : r.met ? 'yes' : 'NO';
  const rounds = r.rounds ? r.rounds.map((x) => x.toFixed(2)).join(' ') : '';
  lines.push(`${r.scenario.padEnd(20)} ${`tsbuild/${r.peer}`.padEnd(20)} ${value.padStart(6)}  ${target.padEnd(8)} ${met.padEnd(8)} ${rounds}`);
}
if (failed.length > 0) lines.push(`failed: ${failed.join(', ')}`);
process.stdout.write(`${lines.join('\n')}\n`);
const strict = pass.includes('--strict');
process.exitCode = failed.length > 0 || (strict && records.some((r) => r.met === false)) ? 1 : 0;
