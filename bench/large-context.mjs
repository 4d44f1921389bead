#!/usr/bin/env node
// Scenario 2, large context: COPY of a context of 20,000 small files (200
// dirs x 100 files of 0.2-4 KB random bytes) plus a 64 MiB random file and
// a 70 MiB text file, then a RUN that reads them, no cache, then a push to
// the local registry. The timed figure is build + push; the registry is
// emptied before each push so that every tool uploads every blob.
// Targets: tsbuild <= 0.3x BuildKit (issue 12) and <= 0.5x buildah.
//   node bench/large-context.mjs [--quick] [--runs N] [--profile] [--json FILE]
import { printBreakdown } from './lib/breakdown.mjs';
import { writeLargeContext } from './lib/inputs.mjs';
import { alternate, fmtS, median, report, runMain } from './lib/measure.mjs';
import { cpuProfile, perfStat, printPerf, profileBuild } from './lib/profile.mjs';
import { buildkitContender, pullBase, setup, writeContainerfile } from './lib/setup.mjs';

export const TARGETS = { buildkit: 0.3, buildah: 0.5 };

export async function main(opts) {
  const size = opts.quick ? { dirs: 2, files: 10, binMB: 1, textMB: 1 } : { dirs: 200, files: 100, binMB: 64, textMB: 70 };
  const runs = opts.quick ? 1 : (opts.runs ?? 5);
  const env = await setup('large-context');
  try {
    await pullBase(env);
    const context = env.ws.path('context');
    const t0 = performance.now();
    const count = writeLargeContext(context, size);
    process.stderr.write(`bench: context of ${count} files generated in ${fmtS(performance.now() - t0)}\n`);
    const file = writeContainerfile(env.ws, 'Containerfile.large-context', [
      `FROM ${env.baseRef}`,
      'COPY . /ctx/',
      'RUN cat /ctx/big.bin /ctx/big.txt > /dev/null && find /ctx | wc -l',
      '',
    ].join('\n'));
    const tag = `${env.registry.host}/bench/large-context:latest`;
    const spec = { file, context, tag, noCache: true };
    const tsRuns = [];
    // Build and push are timed separately and summed; the registry restart in prepare() is not timed.
    const timed = async (build, push) => {
      const b = await build();
      const p = await push();
      return { ms: b.ms + p.ms, buildMs: b.ms, pushMs: p.ms, build: b };
    };
    const results = await alternate([
      {
        name: 'tsbuild',
        prepare: () => env.registry.reset(),
        run: async () => {
          const r = await timed(() => env.tsbuild.build(spec), () => env.tsbuild.cmd(['push', '-q', tag]));
          tsRuns.push({ wallMs: r.buildMs, events: r.build.events });
          return r;
        },
      },
      {
        name: 'buildah',
        prepare: () => env.registry.reset(),
        run: () => timed(() => env.buildah.build(spec), () => env.buildah.cmd(['push', '--quiet', '--tls-verify=false', tag])),
      },
      buildkitContender(env, {
        prepare: () => env.registry.reset(),
        run: () => timed(() => env.buildkit.build(spec), () => env.buildkit.docker(['push', '-q', tag])),
      }),
    ], runs);
    const records = report('large-context', `COPY of ${count} files (${size.binMB} MiB random + ${size.textMB} MiB text + small files), RUN reading them, --no-cache, then push; ${runs} run(s) each, alternating`, results, TARGETS, opts);
    const parts = Object.entries(results).filter(([, r]) => r.available)
      .map(([name, r]) => `${name} build ${fmtS(median(r.extras.map((e) => e.buildMs)))} + push ${fmtS(median(r.extras.map((e) => e.pushMs)))}`);
    process.stdout.write(`  medians of the parts: ${parts.join('; ')}\n`);
    printBreakdown('large-context build', tsRuns);
    if (opts.profile) {
      await profileBuild(env, 'large-context build', spec);
      await env.registry.reset();
      await cpuProfile(env.tsbuild, env.ws.path('profile-push'), 'large-context push', () => env.tsbuild.cmd(['push', '-q', tag]));
      await env.registry.reset();
      const tsbuild = await perfStat(...env.tsbuild.argv(['push', '-q', tag]));
      await env.registry.reset();
      const buildah = await perfStat(...env.buildah.argv(['push', '--quiet', '--tls-verify=false', tag]));
      printPerf('large-context push', [['tsbuild', tsbuild], ['buildah', buildah]]);
    }
    return records;
  } finally {
    await env.ws.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runMain(main);
