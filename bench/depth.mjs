#!/usr/bin/env node
// Scenario 6, depth: what one RUN step costs on an image of 10, 100 and
// 300 layers. Each builder first builds (untimed) a base of D layers
// (busybox and D-1 RUN steps, cached between depths); then, timed and
// --no-cache, a build of 1+K RUN steps on it and one of 1 RUN step, and a
// step costs the difference over K: process start, base resolution and the
// image write cancel out. BuildKit and buildah stop at 127 layers ("max
// depth exceeded"), so they are measured at 10 and 100 only.
// Targets: tsbuild's step at 300 layers <= 1.25x its step at 10 (the cost
// must not grow with depth beyond noise), and <= 1.0x BuildKit's at 10 and 100.
//   node bench/depth.mjs [--quick] [--runs N] [--json FILE]
import { alternate, report, runMain } from './lib/measure.mjs';
import { buildkitContender, emptyContext, pullBase, setup, writeContainerfile } from './lib/setup.mjs';

export const TARGETS = { buildkit: 1.0, buildah: undefined };
export const GROWTH_TARGET = 1.25;
/** The most layers BuildKit and buildah stack. */
const PEER_MAX_DEPTH = 127;

function baseRef(depth) {
  return `localhost/bench/depth-${depth}:latest`;
}

function runSteps(from, n, tag) {
  const lines = [`FROM ${from}`];
  for (let i = 1; i <= n; i++) lines.push(`RUN echo ${tag}${i} > /${tag}${i}`);
  return `${lines.join('\n')}\n`;
}

export async function main(opts) {
  const depths = opts.quick ? [2, 3, 4] : [10, 100, 300];
  const k = opts.quick ? 2 : 10;
  const runs = opts.quick ? 1 : (opts.runs ?? 3);
  const env = await setup('depth');
  try {
    await pullBase(env);
    const context = emptyContext(env.ws);
    const records = [];
    const perDepth = new Map();
    for (const depth of depths) {
      // The base: busybox (one layer) and depth-1 RUN steps, made by each builder in its own store.
      const base = { file: writeContainerfile(env.ws, `Containerfile.base-${depth}`, runSteps(env.baseRef, depth - 1, 'b')), context, tag: baseRef(depth) };
      const peers = depth <= PEER_MAX_DEPTH;
      await env.tsbuild.build(base);
      if (peers) await env.buildah.build(base);
      if (peers && env.buildkit?.available) await env.buildkit.build(base);
      const many = { file: writeContainerfile(env.ws, `Containerfile.steps-${depth}`, runSteps(baseRef(depth), 1 + k, 's')), context, noCache: true };
      const one = { file: writeContainerfile(env.ws, `Containerfile.one-${depth}`, runSteps(baseRef(depth), 1, 's')), context, noCache: true };
      // One sample: the per-step cost, from two builds back to back.
      const perStep = (builder) => async () => {
        const a = await builder.build(many);
        const b = await builder.build(one);
        // A 1 ms floor keeps the ratios finite when noise swamps a tiny --quick build.
        return Math.max(1, a.ms - b.ms) / k;
      };
      const skip = (name) => ({ name, available: false, reason: `stops at ${PEER_MAX_DEPTH} layers ("max depth exceeded")`, run: async () => 0 });
      const contenders = [
        { name: 'tsbuild', run: perStep(env.tsbuild) },
        peers ? { name: 'buildah', run: perStep(env.buildah) } : skip('buildah'),
        peers ? buildkitContender(env, { run: perStep(env.buildkit) }) : skip('buildkit'),
      ];
      const results = await alternate(contenders, runs);
      perDepth.set(depth, results.tsbuild);
      records.push(...report(`depth-${depth}`, `per RUN step on a ${depth}-layer image (${1 + k} vs 1 steps, --no-cache); ${runs} run(s) each, alternating`, results, TARGETS, opts));
    }
    // Growth: tsbuild at its deepest against tsbuild at its shallowest, measured in this run.
    const [shallow, deep] = [depths[0], depths[depths.length - 1]];
    const growth = { tsbuild: perDepth.get(deep), [`tsbuild@${shallow}`]: { ...perDepth.get(shallow), available: true } };
    records.push(...report(`depth-growth`, `tsbuild's step at ${deep} layers over its step at ${shallow}`, growth, { [`tsbuild@${shallow}`]: GROWTH_TARGET }, opts));
    return records;
  } finally {
    await env.ws.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runMain(main);
