#!/usr/bin/env node
// The container-aware /proc's cost per build step (issue 11), A/B in one
// run: 20 `RUN echo` steps, --no-cache, under --memory 64m with the live
// FUSE view (the default) against the same with files written once
// (TSBUILD_PROCVIEW=static, what a detached container gets), plus the
// same build without limits, where no step has a cgroup and so no view.
// Alternating runs; the ratio live/static is the view's price.
//   node bench/procview.mjs [--quick] [--runs N] [--json FILE]
import { writeBusyboxLayout } from '../scripts/make-busybox-image.mjs';
import { alternate, fmtS, runMain } from './lib/measure.mjs';
import { checkBuilt, Tsbuild } from './lib/tsbuild.mjs';
import { emptyContext, writeContainerfile } from './lib/setup.mjs';
import { Workspace } from './lib/workspace.mjs';

export async function main(opts) {
  checkBuilt();
  const steps = opts.quick ? 3 : 20;
  const runs = opts.quick ? 1 : (opts.runs ?? 5);
  const ws = new Workspace('procview');
  try {
    const layout = ws.path('busybox-layout');
    await writeBusyboxLayout(layout, ws.path('busybox-rootfs'));
    const ts = new Tsbuild(ws.path('tsbuild-root'));
    await ts.cmd(['load', '-i', layout]);
    const lines = ['FROM docker.io/library/busybox:stable'];
    for (let i = 1; i <= steps; i++) lines.push(`RUN echo step${i} > /step${i}`);
    const file = writeContainerfile(ws, 'Containerfile.procview', `${lines.join('\n')}\n`);
    const context = emptyContext(ws);
    const contender = (name, extra, env) => ({
      name,
      run: async () => (await ts.cmd(ts.buildArgs({ file, context, tag: 'bench/procview:latest', noCache: true, extra }), { env })).ms,
    });
    const results = await alternate([
      contender('no limits (no view)', [], {}),
      contender('--memory, static view', ['--memory', '64m'], { TSBUILD_PROCVIEW: 'static' }),
      contender('--memory, live view', ['--memory', '64m'], {}),
    ], runs);
    console.log(`procview: ${steps} RUN steps, --no-cache; ${runs} run(s) each, alternating`);
    for (const [name, r] of Object.entries(results)) console.log(`  ${name.padEnd(24)} ${fmtS(r.median)}  (${(r.median / steps).toFixed(1)} ms/step)`);
    const live = results['--memory, live view'].median;
    const stat = results['--memory, static view'].median;
    console.log(`  live/static: ${(live / stat).toFixed(3)}x  (${((live - stat) / steps).toFixed(1)} ms/step)`);
    return [{ scenario: 'procview', live, static: stat, ratio: live / stat }];
  } finally {
    await ws.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runMain(main);
