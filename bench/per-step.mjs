#!/usr/bin/env node
// Scenario 1, per-step cost: 20 `RUN echo stepN > /stepN` steps on busybox,
// no cache, the base already pulled. What a step costs when its command
// costs nothing: container set-up, layer diff, commit.
// Targets: tsbuild <= 0.25x BuildKit (issue 12) and <= 0.125x buildah.
//   node bench/per-step.mjs [--quick] [--runs N] [--profile] [--json FILE]
import { printBreakdown } from './lib/breakdown.mjs';
import { alternate, report, runMain } from './lib/measure.mjs';
import { profileBuild } from './lib/profile.mjs';
import { buildContenders, emptyContext, pullBase, setup, writeContainerfile } from './lib/setup.mjs';

export const TARGETS = { buildkit: 0.25, buildah: 0.125 };

export async function main(opts) {
  const steps = opts.quick ? 3 : 20;
  const runs = opts.quick ? 1 : (opts.runs ?? 5);
  const env = await setup('per-step');
  try {
    await pullBase(env);
    const lines = [`FROM ${env.baseRef}`];
    for (let i = 1; i <= steps; i++) lines.push(`RUN echo step${i} > /step${i}`);
    const file = writeContainerfile(env.ws, 'Containerfile.per-step', `${lines.join('\n')}\n`);
    const context = emptyContext(env.ws);
    const spec = { file, context, tag: 'bench/per-step:latest', noCache: true };
    const tsRuns = [];
    const results = await alternate(buildContenders(env, spec, tsRuns), runs);
    const records = report('per-step', `${steps} RUN steps, --no-cache, base pulled; ${runs} run(s) each, alternating`, results, TARGETS, opts);
    printBreakdown('per-step', tsRuns);
    if (opts.profile) await profileBuild(env, 'per-step build', spec);
    return records;
  } finally {
    await env.ws.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runMain(main);
