#!/usr/bin/env node
// Pulls of real-service-shaped images through the local registry (issue 12):
//   many-files: a Debian bookworm minbase (debootstrap) plus four copies of
//         its /usr: ~30,600 entries, ~700 MiB unpacked, ~273 MiB gzip, in
//         8 layers (bench/lib/many-files-image.mjs). `tsbuild pull` into an empty
//         store (download, verify, unpack, flush) against `skopeo copy
//         docker:// containers-storage:` (what `podman pull` does). Each
//         run also reports CPU time (user+sys of the process tree, from
//         /usr/bin/time), which file creation on a shared VM makes less
//         noisy than wall time.
//   scaling: pull and push of 10- and 50-layer images (200 small files a
//         layer). The figure is the time per layer at 50 over the time per
//         layer at 10: <= 1.0 means the cost grows linearly or better.
// Targets: many-files tsbuild <= 1.0x skopeo; scaling <= 1.0 for pull and push.
//   node bench/pull-many-files.mjs [--quick] [--runs N] [--profile] [--json FILE]
import { appendFileSync, rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { bookwormLayout, manyLayersLayout } from './lib/many-files-image.mjs';
import { alternate, fmtS, median, report, runMain } from './lib/measure.mjs';
import { cpuProfile } from './lib/profile.mjs';
import { setup, skopeoCopy, SKOPEO } from './lib/setup.mjs';
import { Tsbuild } from './lib/tsbuild.mjs';
import { unmountUnder } from './lib/workspace.mjs';
import { run } from '../scripts/lib/proc.mjs';

const TIME = '/usr/bin/time';
const PULL_TARGETS = { 'skopeo-cs': 1.0 };
const SCALING_TARGET = 1.0;

/** Runs [prog, args] under /usr/bin/time; returns {ms, cpuMs} (cpu: user+sys of the whole tree). */
async function timed([prog, args]) {
  const r = await run(TIME, ['-f', 'TSBUILD-CPU %U %S', prog, ...args]);
  const line = r.stderr.split('\n').reverse().find((l) => l.startsWith('TSBUILD-CPU '));
  const [user, sys] = (line ?? 'TSBUILD-CPU NaN NaN').split(' ').slice(1).map(Number);
  return { ms: r.ms, cpuMs: (user + sys) * 1000, userMs: user * 1000, sysMs: sys * 1000 };
}

const skopeoArgv = (src, dest) => [SKOPEO, ['copy', '--quiet', '--src-tls-verify=false', '--dest-tls-verify=false', src, dest]];

function printCpu(label, results) {
  const lines = [`  ${label} CPU time (user+sys, median):`];
  for (const [name, r] of Object.entries(results)) {
    if (!r.available) continue;
    const cpu = median(r.extras.map((e) => e.cpuMs));
    lines.push(`    ${name.padEnd(12)} ${fmtS(cpu)} (user ${fmtS(median(r.extras.map((e) => e.userMs)))}, sys ${fmtS(median(r.extras.map((e) => e.sysMs)))})   runs: ${r.extras.map((e) => (e.cpuMs / 1000).toFixed(2)).join(' ')}`);
  }
  const ts = results.tsbuild;
  for (const [name, r] of Object.entries(results)) {
    if (name === 'tsbuild' || !r.available) continue;
    lines.push(`  cpu ratio tsbuild/${name} ${(median(ts.extras.map((e) => e.cpuMs)) / median(r.extras.map((e) => e.cpuMs))).toFixed(3)}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** One scaling record: per-layer time at `big` layers over per-layer time at `small`. */
function scalingRecord(scenario, small, big, opts) {
  const ratio = (big.median / big.layers) / (small.median / small.layers);
  const rec = { scenario, peer: `${small.layers}-layers`, target: SCALING_TARGET, ratio, met: ratio <= SCALING_TARGET, nproc: cpus().length, runs: big.samples.length, quick: opts.quick, date: new Date().toISOString(), tsbuildMs: big.median, peerMs: small.median };
  process.stdout.write(`ratio: ${scenario} tsbuild/${rec.peer} ${ratio.toFixed(3)}  (time per layer at ${big.layers} layers over at ${small.layers}: ${fmtS(big.median)} for ${big.layers}, ${fmtS(small.median)} for ${small.layers})  target <= ${SCALING_TARGET}: ${rec.met ? 'met' : 'MISSED'}${opts.quick ? '  [quick mode: not a measurement]' : ''}\n`);
  if (opts.json) appendFileSync(opts.json, `${JSON.stringify(rec)}\n`);
  return rec;
}

export async function main(opts) {
  const runs = opts.quick ? 1 : (opts.runs ?? 5);
  const env = await setup('pull-many-files', { buildkit: false });
  try {
    const records = [];
    // Quick mode (the CI smoke test) uses the busybox tree: no debootstrap, no network.
    const quickTree = opts.quick ? { root: env.ws.path('busybox-rootfs') } : {};
    const image = await bookwormLayout({ replicas: opts.quick ? 1 : 4, ...quickTree, ...(opts.quick ? { dir: env.ws.path('quick-bookworm') } : {}) });
    const remote = `${env.registry.host}/bench/bookworm:1`;
    await skopeoCopy(`oci:${image.dir}:1`, `docker://${remote}`);
    const csRoot = env.ws.path('skopeo-cs/root');
    const csRun = env.ws.path('skopeo-cs/run');
    const wipeCs = () => { unmountUnder(env.ws.path('skopeo-cs')); rmSync(env.ws.path('skopeo-cs'), { recursive: true, force: true }); };
    env.ws.onClose(wipeCs);
    const pulls = await alternate([
      { name: 'tsbuild', prepare: () => env.tsbuild.wipe(), run: () => timed(env.tsbuild.argv(['pull', '-q', remote])) },
      { name: 'skopeo-cs', prepare: wipeCs, run: () => timed(skopeoArgv(`docker://${remote}`, `containers-storage:[overlay@${csRoot}+${csRun}]localhost/bench/bookworm:1`)) },
    ], runs);
    const what = `${image.files} entries, ${(image.bytes / 2 ** 20).toFixed(0)} MiB compressed, ${image.layers} layers, into an empty store (skopeo-cs: containers-storage, unpacked); ${runs} run(s) each, alternating`;
    records.push(...report('pull-many-files', what, pulls, PULL_TARGETS, opts));
    printCpu('pull-many-files', pulls);

    // Scaling: the same work per layer, 10 and 50 layers.
    const sizes = opts.quick ? [2, 6] : [10, 50];
    const layouts = [];
    for (const layers of sizes) layouts.push(await manyLayersLayout({ layers, filesPerLayer: opts.quick ? 20 : 200, ...quickTree, ...(opts.quick ? { dir: env.ws.path(`quick-layers-${layers}`) } : {}) }));
    const pusher = new Tsbuild(env.ws.path('tsbuild-push-root'));
    // Both sizes alternate (10, 50, 10, 50, ...), pulls first, then pushes: this VM's file creation
    // slows down as writeback builds up over a run, so five 10-layer pulls followed by five 50-layer
    // ones measured the 50 under a heavier backlog (per-layer ratio 1.64 in a full run, rounds rising
    // 4.5 -> 8.1 s, as skopeo's did just before).
    await env.registry.reset();
    const srcs = sizes.map((n) => `${env.registry.host}/bench/layers${n}:1`);
    for (const [i, layout] of layouts.entries()) await skopeoCopy(`oci:${layout.dir}:1`, `docker://${srcs[i]}`);
    const layerPulls = await alternate(sizes.map((n, i) => ({ name: `pull-${n}`, prepare: () => env.tsbuild.wipe(), run: () => timed(env.tsbuild.argv(['pull', '-q', srcs[i]])) })), runs);
    const locals = [];
    for (const [i, layout] of layouts.entries()) {
      // The cached layouts carry no name: tag what load reports.
      const loaded = /Loaded image ID: (sha256:[0-9a-f]{64})/.exec((await pusher.cmd(['load', '-i', layout.dir])).stdout);
      if (!loaded) throw new Error(`tsbuild load -i ${layout.dir} printed no image ID`);
      locals.push(`docker.io/bench/layers${sizes[i]}:1`);
      await pusher.cmd(['tag', loaded[1], locals[i]]);
    }
    const layerPushes = await alternate(sizes.map((n, i) => ({ name: `push-${n}`, prepare: () => env.registry.reset(), run: () => timed(pusher.argv(['push', '-q', locals[i], `${env.registry.host}/bench/pushed${n}:1`])) })), runs);
    const scale = { pull: [], push: [] };
    for (const [i, layout] of layouts.entries()) {
      const n = sizes[i];
      const p = layerPulls[`pull-${n}`];
      const q = layerPushes[`push-${n}`];
      scale.pull.push({ ...p, layers: n });
      scale.push.push({ ...q, layers: n });
      process.stdout.write(`  ${n} layers (${layout.files} entries, ${(layout.bytes / 2 ** 20).toFixed(0)} MiB): pull median ${fmtS(p.median)} (cpu ${fmtS(median(p.extras.map((e) => e.cpuMs)))}), push median ${fmtS(q.median)} (cpu ${fmtS(median(q.extras.map((e) => e.cpuMs)))})\n`);
    }
    records.push(scalingRecord('pull-50-layers', scale.pull[0], scale.pull[1], opts));
    records.push(scalingRecord('push-50-layers', scale.push[0], scale.push[1], opts));

    if (opts.profile) {
      await env.registry.reset();
      await skopeoCopy(`oci:${image.dir}:1`, `docker://${remote}`);
      env.tsbuild.wipe();
      await cpuProfile(env.tsbuild, env.ws.path('profile-pull'), 'pull-many-files', () => env.tsbuild.cmd(['pull', '-q', remote]));
    }
    return records;
  } finally {
    await env.ws.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runMain(main);
