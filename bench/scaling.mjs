#!/usr/bin/env node
// Scaling figures (issue 12): how tsbuild's costs grow with size, each as a
// growth factor between a small and a large input measured in the same run,
// alternating, and whether that is linear or better.
//   step:    one RUN step's cost on an image of 10, 100 and 300 layers (as
//            in bench/depth.mjs: a 1+K-step and a 1-step --no-cache build
//            on a D-layer base, the difference over K). The input does not
//            grow with depth, so linear or better means any factor up to
//            the depth ratio; a good one stays near 1.
//   context: a no-op cached build (`COPY . /ctx/`, every step cached) of a
//            context of 20k and of 200k small files, less the same build
//            of an empty context (process start, base, image lookup): what
//            is left is the context's hashing and cache check.
//   pull, push: an image of 50 layers against one of 5 layers of the same
//            size each (10x the bytes and the layers), pull into an empty
//            store and push into an empty registry.
// A factor is linear or better when it is at most the input's ratio (the
// "target" in the ratio lines); the exponent log(factor)/log(input ratio)
// says by how much (1 = linear, 0 = flat); see bench/lib/growth.mjs.
// Every figure includes tsbuild's fixed cost (node start, loading), except
// the context one, which subtracts it: so pull and push look flatter than
// their transfer alone would.
//   node bench/scaling.mjs [--quick] [--runs N] [--json FILE]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeLargeImageLayout, randomBytesFrom } from './lib/inputs.mjs';
import { loadLine, printMachine } from './lib/machine.mjs';
import { alternate, fmtS, median, report, runMain } from './lib/measure.mjs';
import { emptyContext, setup, writeContainerfile } from './lib/setup.mjs';
import { Tsbuild } from './lib/tsbuild.mjs';
import { prng } from '../scripts/lib/prng.mjs';
import { growthOf } from './lib/growth.mjs';

/** A context of `count` files of 64-1024 random bytes, 100 to a dir. */
function writeManyFiles(dir, count, seed = 12) {
  const rnd = prng(seed);
  const bytes = randomBytesFrom(`scaling-${seed}`);
  for (let i = 0; i < count; i++) {
    const sub = join(dir, `d${String(Math.floor(i / 100)).padStart(4, '0')}`);
    if (i % 100 === 0) mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, `f${String(i % 100).padStart(2, '0')}.dat`), bytes(64 + Math.floor(rnd() * 961)));
  }
}

/** Results of two sizes as report() takes them: `big` as "tsbuild", `small` as the peer. */
function asResults(bigSamples, smallSamples, smallName) {
  const r = (samples) => ({ samples, extras: [], available: true, median: median(samples) });
  return { tsbuild: r(bigSamples), [smallName]: r(smallSamples) };
}

/** Prints the growth line and returns report()'s records for a big-over-small pair. */
function growth(scenario, what, nSmall, nBig, smallSamples, bigSamples, opts) {
  const peer = `tsbuild@${nSmall}`;
  const inputRatio = nBig / nSmall;
  const records = report(scenario, what, asResults(bigSamples, smallSamples, peer), { [peer]: inputRatio }, opts);
  const g = growthOf(records[0].peerMs, records[0].tsbuildMs, nSmall, nBig);
  process.stdout.write(`  growth: ${nSmall} -> ${nBig} (x${inputRatio}): cost x${g.factor.toFixed(2)}, exponent ${g.exponent.toFixed(2)} (${g.verdict})\n`);
  return records.map((r) => ({ ...r, exponent: g.exponent, verdict: g.verdict }));
}

function runSteps(from, n, tag) {
  const lines = [`FROM ${from}`];
  for (let i = 1; i <= n; i++) lines.push(`RUN echo ${tag}${i} > /${tag}${i}`);
  return `${lines.join('\n')}\n`;
}

async function stepScaling(env, opts, runs) {
  const depths = opts.quick ? [2, 4, 8] : [10, 100, 300];
  const k = opts.quick ? 2 : 10;
  const context = emptyContext(env.ws);
  const samples = new Map();
  const contenders = [];
  for (const depth of depths) {
    const tag = `localhost/bench/scale-${depth}:latest`;
    await env.tsbuild.build({ file: writeContainerfile(env.ws, `Containerfile.scale-base-${depth}`, runSteps(env.baseRef, depth - 1, 'b')), context, tag });
    const many = { file: writeContainerfile(env.ws, `Containerfile.scale-many-${depth}`, runSteps(tag, 1 + k, 's')), context, noCache: true };
    const one = { file: writeContainerfile(env.ws, `Containerfile.scale-one-${depth}`, runSteps(tag, 1, 's')), context, noCache: true };
    contenders.push({
      name: `step@${depth}`,
      run: async () => Math.max(1, (await env.tsbuild.build(many)).ms - (await env.tsbuild.build(one)).ms) / k,
    });
  }
  const results = await alternate(contenders, runs);
  for (const depth of depths) samples.set(depth, results[`step@${depth}`].samples);
  process.stdout.write(`\n  per-step cost: ${depths.map((d) => `${d} layers ${median(samples.get(d)).toFixed(1)} ms`).join(', ')}\n`);
  const [lo, mid, hi] = depths;
  return [
    ...growth('scale-step-mid', `per RUN step, ${mid} layers over ${lo}; ${runs} run(s)`, lo, mid, samples.get(lo), samples.get(mid), opts),
    ...growth('scale-step', `per RUN step, ${hi} layers over ${lo}; ${runs} run(s)`, lo, hi, samples.get(lo), samples.get(hi), opts),
  ];
}

async function contextScaling(env, opts, runs) {
  const [small, big] = opts.quick ? [200, 2000] : [20_000, 200_000];
  const file = writeContainerfile(env.ws, 'Containerfile.scale-context', `FROM ${env.baseRef}\nCOPY . /ctx/\n`);
  const specs = {};
  for (const [name, count] of [['empty', 0], ['small', small], ['big', big]]) {
    const context = env.ws.path(`scale-context-${name}`, { mkdir: true });
    const t0 = performance.now();
    writeManyFiles(context, count);
    if (count > 0) process.stderr.write(`bench: context of ${count} files written in ${fmtS(performance.now() - t0)}\n`);
    specs[name] = { file, context, tag: `localhost/bench/scale-context-${name}:latest` };
    await env.tsbuild.build(specs[name]); // the first build fills the cache; the timed ones are no-ops
  }
  const results = await alternate(Object.keys(specs).map((name) => ({ name, run: async () => (await env.tsbuild.build(specs[name])).ms })), runs);
  const floor = results.empty.samples;
  const net = (name) => results[name].samples.map((ms, i) => Math.max(1, ms - floor[i]));
  process.stdout.write(`\n  no-op cached build: empty context ${fmtS(results.empty.median)}, ${small} files ${fmtS(results.small.median)}, ${big} files ${fmtS(results.big.median)} (the context's part is each less the empty one)\n`);
  return growth('scale-context', `no-op cached build, ${big} files over ${small} (less the empty-context build); ${runs} run(s)`, small, big, net('small'), net('big'), opts);
}

async function pullPushScaling(env, opts, runs) {
  const [small, big] = opts.quick ? [2, 5] : [5, 50];
  const layerMB = opts.quick ? 0.25 : 2;
  const images = {};
  for (const layers of [small, big]) {
    const layout = env.ws.path(`scale-layout-${layers}`);
    const localName = `docker.io/bench/layers${layers}:1`;
    await writeLargeImageLayout(layout, { layers, layerMB, tag: '1', name: localName, seed: 50 + layers });
    const pusher = new Tsbuild(env.ws.path(`scale-push-root-${layers}`));
    await pusher.cmd(['load', '-i', layout]);
    images[layers] = { localName, pusher, remote: `${env.registry.host}/bench/layers${layers}:1` };
  }
  // Push first (into an emptied registry each time), then pull what the last push left.
  const push = await alternate([small, big].map((n) => ({
    name: `push@${n}`,
    prepare: () => env.registry.reset(),
    run: async () => (await images[n].pusher.cmd(['push', '-q', images[n].localName, images[n].remote])).ms,
  })), runs);
  await env.registry.reset();
  for (const n of [small, big]) await images[n].pusher.cmd(['push', '-q', images[n].localName, images[n].remote]);
  // A store of its own: wiping the main one (the 200k-file context's layers) takes longer than the pulls.
  const puller = new Tsbuild(env.ws.path('scale-pull-root'));
  const pull = await alternate([small, big].map((n) => ({
    name: `pull@${n}`,
    prepare: () => puller.wipe(),
    run: async () => (await puller.cmd(['pull', '-q', images[n].remote])).ms,
  })), runs);
  const what = (op) => `${op} of a ${big}-layer image over a ${small}-layer one (${layerMB} MiB a layer); ${runs} run(s)`;
  return [
    ...growth('scale-pull', what('pull into an empty store'), small, big, pull[`pull@${small}`].samples, pull[`pull@${big}`].samples, opts),
    ...growth('scale-push', what('push into an empty registry'), small, big, push[`push@${small}`].samples, push[`push@${big}`].samples, opts),
  ];
}

export async function main(opts) {
  const runs = opts.quick ? 1 : (opts.runs ?? 3);
  const env = await setup('scaling', { buildkit: false });
  try {
    printMachine('start');
    await env.tsbuild.cmd(['pull', '-q', env.baseRef]);
    const records = [
      ...(await stepScaling(env, opts, runs)),
      ...(await contextScaling(env, opts, runs)),
      ...(await pullPushScaling(env, opts, runs)),
    ];
    printMachine('end');
    return records;
  } finally {
    await env.ws.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runMain(main);
