#!/usr/bin/env node
// Scenario 4, fully cached rebuild: the small multi-step Containerfile of
// the cold scenario, built once by each tool (not timed), then rebuilt
// with every step cached. buildah runs with --pull=false, so it uses the
// local base as tsbuild and BuildKit do (its default asks the registry).
// Targets: tsbuild <= 0.6x buildah and <= 0.8x a warm BuildKit (issue 12).
//   node bench/cached-rebuild.mjs [--quick] [--runs N] [--profile] [--json FILE]
import { printBreakdown } from './lib/breakdown.mjs';
import { alternate, report, runMain } from './lib/measure.mjs';
import { profileBuild } from './lib/profile.mjs';
import { buildContenders, emptyContext, setup, smallAppContainerfile, writeContainerfile } from './lib/setup.mjs';

export const TARGETS = { buildah: 0.6, buildkit: 0.8 };

export async function main(opts) {
  const runs = opts.quick ? 1 : (opts.runs ?? 7);
  const env = await setup('cached-rebuild');
  try {
    const file = writeContainerfile(env.ws, 'Containerfile.small-app', smallAppContainerfile(env.baseRef));
    const context = emptyContext(env.ws);
    const spec = { file, context, tag: 'bench/small-app:latest' };
    await env.tsbuild.build(spec);
    await env.buildah.build({ ...spec, pull: 'true' });
    if (env.buildkit?.available) await env.buildkit.build(spec);
    const tsRuns = [];
    const results = await alternate(buildContenders(env, spec, tsRuns), runs);
    const records = report('cached-rebuild', `small multi-step build, every step cached; ${runs} run(s) each, alternating`, results, TARGETS, opts);
    printBreakdown('cached rebuild', tsRuns);
    // The floor under any tsbuild command: Node start-up and the CLI's module loading.
    const floor = [];
    for (let i = 0; i < (opts.quick ? 1 : 5); i++) floor.push((await env.tsbuild.cmd(['images'])).ms);
    floor.sort((a, b) => a - b);
    process.stdout.write(`  tsbuild floor: \`tsbuild images\` takes ${floor[floor.length >> 1].toFixed(0)} ms (median)\n`);
    if (opts.profile) await profileBuild(env, 'cached rebuild', spec);
    return records;
  } finally {
    await env.ws.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runMain(main);
