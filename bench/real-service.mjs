#!/usr/bin/env node
// Scenario: real services (issue 12). Two services of bench/lib/services.mjs
// (a multi-stage Go HTTP service, an express app with `npm ci`) on a Debian
// bookworm base made by debootstrap (bench/lib/bookworm.mjs), pushed to the
// local registry by tsbuild and pulled from there by all three tools as
// FROM 127.0.0.1:PORT/bookworm. apt-get, go and npm reach Debian's mirror
// and their registries over the network (--network host for every tool),
// so cold figures carry network noise: the tools alternate to share it.
// Modes, per service:
//   cold     every store empty (tsbuild: store removed; buildah: fresh
//            storage, --pull=true; BuildKit: `docker builder prune -af` and
//            rmi of every image), base pulled from the registry.
//   cached   nothing changed since the last build.
//   changed  one source file edited (a new version string each round),
//            so the steps from `COPY . .` on run again.
// Targets: cold <= 0.9x BuildKit; cached and changed <= 0.8x BuildKit;
// buildah reported, no target. After each mode: tsbuild's breakdown, then
// each executed step's time in tsbuild and in BuildKit side by side (from
// BuildKit's --progress plain, bench/lib/buildkit-steps.mjs) and each tool's
// time outside steps (BuildKit's base pull is its FROM vertex).
//   node bench/real-service.mjs [--quick] [--runs N] [--json FILE]   (default runs: 3 cold, 5 warm)
//   --quick: the Go service only, one run per mode (a few minutes).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { printBreakdown, printVersus } from './lib/breakdown.mjs';
import { pushBookworm } from './lib/bookworm.mjs';
import { loadLine, printMachine } from './lib/machine.mjs';
import { alternate, report, runMain } from './lib/measure.mjs';
import { writeServices } from './lib/services.mjs';
import { buildkitContender, setup, tsbuildBuildRun, writeContainerfile } from './lib/setup.mjs';

export const TARGETS = {
  cold: { buildkit: 0.9, buildah: undefined },
  cached: { buildkit: 0.8, buildah: undefined },
  changed: { buildkit: 0.8, buildah: undefined },
};

/** The built image works: its selftest answers one real request. */
async function selftest(env, svc, tag) {
  const r = await env.tsbuild.cmd(['run', '--rm', '--network', 'none', tag, ...svc.selftest]);
  if (!r.stdout.includes('selftest ok')) throw new Error(`${svc.name}: the image tsbuild built fails its selftest:\n${r.stdout}\n${r.stderr}`);
  process.stderr.write(`bench: ${svc.name} image works: ${r.stdout.trim()}\n`);
}

function contenders(env, spec, mode, tsRuns, svc, bkRuns) {
  // BuildKit's plain progress (stderr) carries its step times: kept for the side-by-side breakdown.
  const bkRun = async () => {
    const r = await env.buildkit.build(spec);
    bkRuns.push({ wallMs: r.ms, stderr: r.stderr });
    return r.ms;
  };
  const round = (i) => { if (mode === 'changed') svc.edit(`v${i + 1}`); };
  if (mode === 'cold') {
    return [
      { name: 'tsbuild', prepare: () => env.tsbuild.wipe(), run: tsbuildBuildRun(env, spec, tsRuns) },
      { name: 'buildah', prepare: () => env.buildah.wipe(), run: async () => (await env.buildah.build({ ...spec, pull: 'true' })).ms },
      buildkitContender(env, { prepare: () => env.buildkit.wipe(), run: bkRun }),
    ];
  }
  // The edit is made before the round's first build; the others see the same file.
  return [
    { name: 'tsbuild', prepare: round, run: tsbuildBuildRun(env, spec, tsRuns) },
    { name: 'buildah', prepare: round, run: async () => (await env.buildah.build(spec)).ms },
    buildkitContender(env, { prepare: round, run: bkRun }),
  ];
}

export async function main(opts) {
  // Cold builds take minutes each (apt-get, go's compile, npm ci): fewer of them by default.
  const runsOf = (mode) => (opts.quick ? 1 : (opts.runs ?? (mode === 'cold' ? 3 : 5)));
  const env = await setup('real-service');
  try {
    printMachine('start');
    const base = await pushBookworm(env);
    process.stderr.write(`bench: bookworm base at ${base}\n`);
    const services = await writeServices(env.ws.path('services', { mkdir: true }), base);
    const chosen = opts.quick ? [services.go] : [services.go, services.node];
    const records = [];
    for (const svc of chosen) {
      const file = writeContainerfile(env.ws, `Containerfile.${svc.name}`, svc.containerfile);
      const tag = `bench/real-${svc.name}:latest`;
      const spec = { file, context: svc.context, tag, network: 'host' };
      for (const mode of ['cold', 'cached', 'changed']) {
        const tsRuns = [];
        const bkRuns = [];
        process.stderr.write(`bench: ${svc.name} service, ${mode}\n`);
        const runs = runsOf(mode);
        const results = await alternate(contenders(env, spec, mode, tsRuns, svc, bkRuns), runs);
        // After the cold builds every store holds the last one: the warm modes start from there.
        if (mode === 'cold') await selftest(env, svc, tag);
        const what = { cold: 'empty stores, base pulled', cached: 'nothing changed', changed: 'one source file edited' }[mode];
        records.push(...report(`real-${svc.name}-${mode}`, `${svc.name} service on bookworm, ${what}; ${runs} run(s) each, alternating`, results, TARGETS[mode], opts));
        printBreakdown(`${svc.name} ${mode}`, tsRuns, { steps: 4 });
        printVersus(`${svc.name} ${mode}`, tsRuns, bkRuns);
        // BENCH_BUILDKIT_LOGS=DIR keeps BuildKit's progress output, to check the parse against.
        const logs = process.env.BENCH_BUILDKIT_LOGS;
        if (logs) for (const [i, r] of bkRuns.entries()) writeFileSync(join(logs, `buildkit-${svc.name}-${mode}-${i + 1}.log`), r.stderr);
        process.stdout.write(`  ${loadLine()}\n`);
      }
    }
    printMachine('end');
    return records;
  } finally {
    await env.ws.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runMain(main);
