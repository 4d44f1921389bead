#!/usr/bin/env node
// Scenario 5, pull and push of a 200 MiB image (4 layers of random
// content) against skopeo, through the local registry:
//   pull: `tsbuild pull` into an empty store, which downloads, verifies and
//         unpacks every layer (the image is then ready to run), against
//         skopeo doing the same into an empty containers-storage (what
//         `podman pull` does: download, verify, unpack into overlay layer
//         dirs). The target applies to this like-for-like pair.
//         For scale, no target: `skopeo copy docker://… oci:DIR`, which only
//         downloads and verifies the blobs (no unpack).
//   push: `tsbuild push` vs `skopeo copy oci:DIR docker://…`, each into an
//         emptied registry, so every blob is uploaded.
// Targets: tsbuild <= 1.0x skopeo for each.
//   node bench/pull-push.mjs [--quick] [--runs N] [--profile] [--json FILE]
import { rmSync } from 'node:fs';
import { writeLargeImageLayout } from './lib/inputs.mjs';
import { alternate, fmtS, report, runMain } from './lib/measure.mjs';
import { cpuProfile, perfStat, printPerf } from './lib/profile.mjs';
import { setup, skopeoCopy, SKOPEO } from './lib/setup.mjs';
import { Tsbuild } from './lib/tsbuild.mjs';
import { unmountUnder } from './lib/workspace.mjs';

export const TARGETS = { skopeo: 1.0 };
const PULL_TARGETS = { 'skopeo-cs': 1.0, 'skopeo-oci': undefined };

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
    const csRoot = env.ws.path('skopeo-cs/root');
    const csRun = env.ws.path('skopeo-cs/run');
    const wipeCs = () => { unmountUnder(env.ws.path('skopeo-cs')); rmSync(env.ws.path('skopeo-cs'), { recursive: true, force: true }); };
    env.ws.onClose(wipeCs);
    const records = [];

    // Pull: the registry holds the image (pushed there by skopeo, not timed).
    await skopeoCopy(`oci:${layout}:1`, `docker://${remote}`);
    const pullResults = await alternate([
      { name: 'tsbuild', prepare: () => env.tsbuild.wipe(), run: async () => (await env.tsbuild.cmd(['pull', '-q', remote])).ms },
      { name: 'skopeo-cs', prepare: wipeCs, run: async () => (await skopeoCopy(`docker://${remote}`, `containers-storage:[overlay@${csRoot}+${csRun}]localhost/bench/big:1`)).ms },
      { name: 'skopeo-oci', prepare: () => rmSync(ociDir, { recursive: true, force: true }), run: async () => (await skopeoCopy(`docker://${remote}`, `oci:${ociDir}:1`)).ms },
    ], runs);
    records.push(...report('pull', `${(bytes / 2 ** 20).toFixed(0)} MiB image, ${size.layers} layers, into an empty store (skopeo-cs: containers-storage, unpacked; skopeo-oci: blobs only); ${runs} run(s) each, alternating`, pullResults, PULL_TARGETS, opts));

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
