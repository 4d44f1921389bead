#!/usr/bin/env node
// Scenario 6, fresh runner: a CI runner with an empty store builds a
// context whose build cache is already in the local registry (a previous
// pipeline exported it), so every step should come from that cache.
// - tsbuild: --cache-from type=registry (exported with --cache-to mode=max);
// - buildah: --layers --cache-from REPO (exported with --cache-to REPO), on
//   fresh storage;
// - BuildKit: the image pushed with BUILDKIT_INLINE_CACHE=1, imported with
//   --cache-from into a dockerd emptied of images and build cache.
// tsbuild keeps the cached steps' layers lazy (src/build/executor/lazy-layers.ts):
// the timed build downloads none of them, the first `run` of the image does;
// buildah and BuildKit's docker exporter load them during the build.
// The export builds are not timed. The base is pulled by every tool in the
// timed run, as a fresh runner has to. Target: tsbuild <= 0.5x buildah and
// <= 1.0x BuildKit.
//   node bench/fresh-runner.mjs [--quick] [--runs N] [--json FILE]
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { printBreakdown } from './lib/breakdown.mjs';
import { alternate, report, runMain } from './lib/measure.mjs';
import { buildkitContender, setup, writeContainerfile } from './lib/setup.mjs';

export const TARGETS = { buildah: 0.5, buildkit: 1.0 };

/** One stage (BuildKit's inline cache holds only the final stage), some layer bytes worth fetching. */
function containerfile(baseRef, dataMB) {
  return [
    `FROM ${baseRef}`,
    'ENV APP_HOME=/app',
    'WORKDIR /app',
    `RUN head -c ${dataMB * 1024 * 1024} /dev/urandom > /app/vendor.bin`,
    'COPY src /app/src',
    'RUN for i in 1 2 3 4 5 6 7 8; do cat /app/src/main.txt > /app/out$i.txt; done',
    'RUN ls -l /app > /app/listing.txt',
    'CMD ["cat", "/app/listing.txt"]',
    '',
  ].join('\n');
}

export async function main(opts) {
  const runs = opts.quick ? 1 : (opts.runs ?? 5);
  const env = await setup('fresh-runner');
  try {
    const file = writeContainerfile(env.ws, 'Containerfile.fresh-runner', containerfile(env.baseRef, opts.quick ? 1 : 32));
    const context = env.ws.path('fresh-context', { mkdir: true });
    env.ws.path('fresh-context/src', { mkdir: true });
    for (let i = 0; i < 20; i++) writeFileSync(join(context, 'src', i === 0 ? 'main.txt' : `file${i}.txt`), `source ${i}\n`.repeat(200));
    const reg = env.registry.host;
    const tsCache = `type=registry,ref=${reg}/cache/fresh-runner:tsbuild`;
    const buildahCache = `${reg}/cache/fresh-runner-buildah`;
    const bkImage = `${reg}/cache/fresh-runner-buildkit:inline`;
    const tag = 'bench/fresh-runner:latest';

    // The previous pipeline: each tool exports its cache (not timed).
    const seeded = await env.tsbuild.build({ file, context, tag, extra: ['--cache-to', `${tsCache},mode=max`] });
    if (seeded.code !== 0) throw new Error(`tsbuild cache export failed: ${seeded.stderr}`);
    await env.buildah.build({ file, context, tag, pull: 'true', extra: ['--cache-to', buildahCache] });
    if (env.buildkit?.available) {
      await env.buildkit.build({ file, context, tag: bkImage, extra: ['--build-arg', 'BUILDKIT_INLINE_CACHE=1'] });
      await env.buildkit.docker(['push', '-q', bkImage]);
    }

    const tsRuns = [];
    const results = await alternate([
      {
        name: 'tsbuild',
        prepare: () => env.tsbuild.wipe(),
        run: async () => {
          const r = await env.tsbuild.build({ file, context, tag, extra: ['--cache-from', tsCache] });
          const ran = r.events.filter((e) => e.type === 'done' && e.layer).length;
          if (ran > 0) throw new Error(`tsbuild ran ${ran} step(s) on a fresh runner with the cache: ${r.stderr.slice(-400)}`);
          tsRuns.push({ wallMs: r.ms, events: r.events });
          return r.ms;
        },
      },
      {
        name: 'buildah',
        prepare: () => env.buildah.wipe(),
        run: async () => (await env.buildah.build({ file, context, tag, pull: 'true', extra: ['--cache-from', buildahCache] })).ms,
      },
      buildkitContender(env, {
        prepare: () => env.buildkit.wipe(),
        run: async () => (await env.buildkit.build({ file, context, tag, extra: ['--cache-from', bkImage] })).ms,
      }),
    ], runs);
    const records = report('fresh-runner', `empty store, every step in the registry cache (${opts.quick ? 1 : 32} MB layer), base pulled; ${runs} run(s) each, alternating`, results, TARGETS, opts);
    printBreakdown('fresh runner', tsRuns);
    return records;
  } finally {
    await env.ws.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runMain(main);
