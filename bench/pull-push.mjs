#!/usr/bin/env node
// Scenario 5, pull and push of a 200 MiB image (4 layers of random
// content) against skopeo, through the local registry:
//   pull: `tsbuild pull` into an empty store vs `skopeo copy docker://… oci:DIR`
//         into an empty dir (tsbuild also unpacks the layers: that is what a
//         pull is for it, and it is counted);
//         For scale only (no target): skopeo copy followed by `umoci raw
//         unpack`, which also lays the files out on disk;
//   push: `tsbuild push` vs `skopeo copy oci:DIR docker://…`, each into an
//         emptied registry, so every blob is uploaded.
// Targets: tsbuild <= 1.0x skopeo for each.
//   node bench/pull-push.mjs [--quick] [--runs N] [--profile] [--json FILE]
import { rmSync } from 'node:fs';
import { writeLargeImageLayout } from './lib/inputs.mjs';
import { alternate, fmtS, report, runMain } from './lib/measure.mjs';
import { cpuProfile, perfStat, printPerf } from './lib/profile.mjs';
import { run } from './lib/proc.mjs';
import { setup, skopeoCopy, SKOPEO } from './lib/setup.mjs';
import { Tsbuild } from './lib/tsbuild.mjs';

export const TARGETS = { skopeo: 1.0 };
const PULL_TARGETS = { ...TARGETS, 'skopeo+umoci': undefined };
const UMOCI = '/usr/bin/umoci';

export async function main(opts) {
  const size = opts.quick ? { layers: 2, layerMB: 1 } : { layers: 4, layerMB: 50 };
  const runs = opts.quick ? 1 : (opts.runs ?? 5);
  const env = await setup('pull-push', { buildkit: false });
  try {
    const layout = env.ws.path('big-layout');
    const localName = 'docker.io/bench/big:1';
    const t0 = performance.now();
    const { bytes } = await writeLargeImageLayout(layout, { ...size, tag: '1', name: localName });
    process.stderr.write(`bench: image of ${(bytes / 2 ** 20).toFixed(0)} MiB compressed generated in ${fmtS(performance.now() - t0)}\n`);
    const remote = `${env.registry.host}/bench/big:1`;
    const pushed = `${env.registry.host}/bench/pushed:1`;
    const ociDir = env.ws.path('skopeo-oci');
    const rootfs = env.ws.path('umoci-rootfs');
    const records = [];

    // Pull: the registry holds the image (pushed there by skopeo, not timed).
    await skopeoCopy(`oci:${layout}:1`, `docker://${remote}`);
    const pullResults = await alternate([
      { name: 'tsbuild', prepare: () => env.tsbuild.wipe(), run: async () => (await env.tsbuild.cmd(['pull', '-q', remote])).ms },
      { name: 'skopeo', prepare: () => rmSync(ociDir, { recursive: true, force: true }), run: async () => (await skopeoCopy(`docker://${remote}`, `oci:${ociDir}:1`)).ms },
      {
        name: 'skopeo+umoci',
        prepare: () => { rmSync(ociDir, { recursive: true, force: true }); rmSync(rootfs, { recursive: true, force: true }); },
        run: async () => (await skopeoCopy(`docker://${remote}`, `oci:${ociDir}:1`)).ms + (await run(UMOCI, ['raw', 'unpack', '--image', `${ociDir}:1`, rootfs])).ms,
      },
    ], runs);
    records.push(...report('pull', `${(bytes / 2 ** 20).toFixed(0)} MiB image, ${size.layers} layers, into an empty store / dir; ${runs} run(s) each, alternating`, pullResults, PULL_TARGETS, opts));

    // Push: tsbuild's store holds the image (loaded from the layout, not timed); skopeo reads the layout.
    const pusher = new Tsbuild(env.ws.path('tsbuild-push-root'));
    await pusher.cmd(['load', '-i', layout]);
    const pushResults = await alternate([
      { name: 'tsbuild', prepare: () => env.registry.reset(), run: async () => (await pusher.cmd(['push', '-q', localName, pushed])).ms },
      { name: 'skopeo', prepare: () => env.registry.reset(), run: async () => (await skopeoCopy(`oci:${layout}:1`, `docker://${pushed}`)).ms },
    ], runs);
    records.push(...report('push', `${(bytes / 2 ** 20).toFixed(0)} MiB image, ${size.layers} layers, into an empty registry; ${runs} run(s) each, alternating`, pushResults, TARGETS, opts));

    if (opts.profile) {
      await env.registry.reset();
      await skopeoCopy(`oci:${layout}:1`, `docker://${remote}`);
      env.tsbuild.wipe();
      await cpuProfile(env.tsbuild, env.ws.path('profile-pull'), 'pull', () => env.tsbuild.cmd(['pull', '-q', remote]));
      await env.registry.reset();
      await cpuProfile(pusher, env.ws.path('profile-push'), 'push', () => pusher.cmd(['push', '-q', localName, pushed]));
      await env.registry.reset();
      await skopeoCopy(`oci:${layout}:1`, `docker://${remote}`);
      env.tsbuild.wipe();
      rmSync(ociDir, { recursive: true, force: true });
      printPerf('pull', [
        ['tsbuild', await perfStat(...env.tsbuild.argv(['pull', '-q', remote]))],
        ['skopeo', await perfStat(SKOPEO, ['copy', '--quiet', '--src-tls-verify=false', `docker://${remote}`, `oci:${ociDir}:1`])],
      ]);
      await env.registry.reset();
      const tsPush = await perfStat(...pusher.argv(['push', '-q', localName, pushed]));
      await env.registry.reset();
      printPerf('push', [
        ['tsbuild', tsPush],
        ['skopeo', await perfStat(SKOPEO, ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:1`, `docker://${pushed}`])],
      ]);
    }
    return records;
  } finally {
    await env.ws.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runMain(main);
