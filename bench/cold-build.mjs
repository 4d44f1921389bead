#!/usr/bin/env node
// Scenario 3, cold build: an empty store each time, the base pulled from
// the local registry, then a small multi-step Containerfile (RUN, ENV,
// WORKDIR, LABEL, CMD). BuildKit's daemon stays up, with its images and
// build cache removed before each run (its start-up is not counted).
// Target: tsbuild <= 0.5x buildah (BuildKit reported, no target).
//   node bench/cold-build.mjs [--quick] [--runs N] [--profile] [--json FILE]
import { printBreakdown } from './lib/breakdown.mjs';
import { alternate, report, runMain } from './lib/measure.mjs';
import { profileBuild } from './lib/profile.mjs';
import { buildkitContender, emptyContext, setup, smallAppContainerfile, tsbuildBuildRun, writeContainerfile } from './lib/setup.mjs';

export const TARGETS = { buildah: 0.5, buildkit: undefined };

export async function main(opts) {
  const runs = opts.quick ? 1 : (opts.runs ?? 5);
  const env = await setup('cold-build');
  try {
    const file = writeContainerfile(env.ws, 'Containerfile.small-app', smallAppContainerfile(env.baseRef));
    const context = emptyContext(env.ws);
    const spec = { file, context, tag: 'bench/small-app:latest' };
    const tsRuns = [];
    const results = await alternate([
      {
        name: 'tsbuild',
        prepare: () => env.tsbuild.wipe(),
        run: tsbuildBuildRun(env, spec, tsRuns),
      },
      // buildah's default pull policy: the base is missing, so it is pulled.
      { name: 'buildah', prepare: () => env.buildah.wipe(), run: async () => (await env.buildah.build({ ...spec, pull: 'true' })).ms },
      buildkitContender(env, { prepare: () => env.buildkit.wipe(), run: async () => (await env.buildkit.build(spec)).ms }),
    ], runs);
    const records = report('cold-build', `empty store, base pulled from the local registry, small multi-step build; ${runs} run(s) each, alternating`, results, TARGETS, opts);
    printBreakdown('cold build', tsRuns);
    if (opts.profile) {
      const before = async () => { env.tsbuild.wipe(); await env.buildah.wipe(); };
      await profileBuild(env, 'cold build', spec, { before, buildahSpec: { ...spec, pull: 'true' } });
    }
    return records;
  } finally {
    await env.ws.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runMain(main);
