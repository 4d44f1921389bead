#!/usr/bin/env node
// Scenario 6, multi-platform: `build --platform linux/amd64,linux/arm64`
// without cache (empty stores each run, the two-platform busybox base pulled
// from the local registry), the cross-compile pattern: a
// `FROM --platform=$BUILDPLATFORM` builder stage and a final stage with RUN
// steps that run under qemu-user-static for arm64. Against
// `buildah build --platform linux/amd64,linux/arm64 --manifest`.
// Target: tsbuild <= 0.5x buildah. BuildKit is not run (dockerd's classic
// image store cannot hold an index).
//   node bench/multi-platform.mjs [--quick] [--runs N] [--json FILE]
import { alternate, report, runMain } from './lib/measure.mjs';
import { emptyContext, setup, SKOPEO, writeContainerfile } from './lib/setup.mjs';
import { run } from '../scripts/lib/proc.mjs';
import { ensureBinfmt, writeArm64BusyboxRootfs, writeMultiArchLayout } from '../scripts/lib/busybox-arm64.mjs';

export const TARGETS = { buildah: 0.5 };
const PLATFORMS = 'linux/amd64,linux/arm64';

function containerfile(base) {
  return [
    `FROM --platform=$BUILDPLATFORM ${base} AS builder`,
    'ARG TARGETARCH',
    'RUN mkdir -p /out && for i in 1 2 3 4 5 6 7 8; do echo "part $i for $TARGETARCH" > /out/part$i; done',
    'RUN uname -m > /out/built-on',
    `FROM ${base}`,
    'COPY --from=builder /out /app',
    'RUN uname -m > /app/runs-on && ls -l /app > /app/listing',
    'RUN for i in 1 2 3 4; do echo "item $i" >> /app/items; done',
    'CMD ["cat", "/app/runs-on"]',
    '',
  ].join('\n');
}

export async function main(opts) {
  const runs = opts.quick ? 1 : (opts.runs ?? 5);
  ensureBinfmt();
  const env = await setup('multi-platform', { buildkit: false });
  try {
    const arm64 = await writeArm64BusyboxRootfs(env.ws.path('busybox-rootfs-arm64'), env.ws.path('busybox-rootfs'), env.ws.path('deb'));
    const layout = env.ws.path('busybox-multi');
    await writeMultiArchLayout(layout, { amd64: env.ws.path('busybox-rootfs'), arm64 });
    const base = `${env.registry.host}/library/busybox:multi`;
    // --all: every platform of the index, not only the host's.
    await run(SKOPEO, ['copy', '--quiet', '--all', '--dest-tls-verify=false', `oci:${layout}:multi`, `docker://${base}`]);
    const file = writeContainerfile(env.ws, 'Containerfile.multi', containerfile(base));
    const context = emptyContext(env.ws);
    const results = await alternate([
      {
        name: 'tsbuild',
        prepare: () => env.tsbuild.wipe(),
        run: async () => (await env.tsbuild.cmd(['build', '--network', 'none', '--platform', PLATFORMS, '-t', 'bench/multi:1', '-f', file, context])).ms,
      },
      {
        name: 'buildah',
        prepare: () => env.buildah.wipe(),
        run: async () => (await env.buildah.cmd(['--runtime', '/usr/sbin/runc', 'build', '--layers', '--network', 'none', '--pull=true', '--tls-verify=false',
          '--platform', PLATFORMS, '--manifest', 'bench/multi:1', '-f', file, context])).ms,
      },
    ], runs);
    return report('multi-platform', `two platforms (arm64 under qemu), no cache, base pulled; ${runs} run(s) each, alternating`, results, TARGETS, opts);
  } finally {
    await env.ws.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runMain(main);
