// What every scenario starts from: a workspace, a local registry holding
// the busybox base image (built from Debian's busybox-static by
// scripts/make-busybox-image.mjs and pushed there with skopeo), and the
// three builders, each with its own store under the workspace.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeBusyboxLayout } from '../../scripts/make-busybox-image.mjs';
import { Buildah } from './buildah.mjs';
import { BuildKit } from './buildkit.mjs';
import { run } from '../../scripts/lib/proc.mjs';
import { Registry } from './registry.mjs';
import { checkBuilt, Tsbuild } from './tsbuild.mjs';
import { Workspace } from './workspace.mjs';

export const SKOPEO = '/usr/bin/skopeo';

/** skopeo copy between transports; the registry is plain HTTP. */
export function skopeoCopy(src, dest, opts = {}) {
  return run(SKOPEO, ['copy', '--quiet', '--src-tls-verify=false', '--dest-tls-verify=false', src, dest], opts);
}

/**
 * Makes the workspace, registry and base image. `buildkit: false` skips
 * the daemon. Returns {ws, registry, baseRef, tsbuild, buildah, buildkit}.
 */
export async function setup(name, { buildkit = true } = {}) {
  checkBuilt();
  const ws = new Workspace(name);
  try {
    const registry = await new Registry(ws).start();
    const layout = ws.path('busybox-layout');
    await writeBusyboxLayout(layout, ws.path('busybox-rootfs'));
    const baseRef = `${registry.host}/library/busybox:stable`;
    await skopeoCopy(`oci:${layout}:stable`, `docker://${baseRef}`);
    const env = {
      ws,
      registry,
      layout,
      baseRef,
      tsbuild: new Tsbuild(ws.path('tsbuild-root')),
      buildah: new Buildah(ws.path('buildah/root'), ws.path('buildah/runroot')),
      buildkit: undefined,
    };
    ws.onClose(() => env.buildah.wipe());
    if (buildkit) {
      env.buildkit = new BuildKit(ws, { insecureRegistry: registry.host });
      if (!(await env.buildkit.start())) process.stderr.write(`bench: BuildKit is not available: ${env.buildkit.reason}\n`);
    }
    return env;
  } catch (e) {
    await ws.close();
    throw e;
  }
}

/** Pulls the base into every builder's store ("base already pulled"). */
export async function pullBase(env) {
  await env.tsbuild.cmd(['pull', '-q', env.baseRef]);
  await env.buildah.cmd(['pull', '--quiet', '--tls-verify=false', env.baseRef]);
  if (env.buildkit?.available) await env.buildkit.docker(['pull', '-q', env.baseRef]);
}

/** Writes a Containerfile under the workspace and returns its path. */
export function writeContainerfile(ws, name, text) {
  const path = ws.path(`files/${name}`);
  ws.path('files', { mkdir: true });
  writeFileSync(path, text);
  return path;
}

/** A tsbuild build as a timed run that also keeps its events for the breakdown. */
export function tsbuildBuildRun(env, spec, tsRuns) {
  return async () => {
    const r = await env.tsbuild.build(spec);
    tsRuns.push({ wallMs: r.ms, events: r.events });
    return r.ms;
  };
}

/** The three builders building `spec` from what their stores hold; tsbuild's events go to `tsRuns`. */
export function buildContenders(env, spec, tsRuns) {
  return [
    { name: 'tsbuild', run: tsbuildBuildRun(env, spec, tsRuns) },
    { name: 'buildah', run: async () => (await env.buildah.build(spec)).ms },
    buildkitContender(env, { run: async () => (await env.buildkit.build(spec)).ms }),
  ];
}

/** The contender entry for BuildKit, or a not-run placeholder with the reason. */
export function buildkitContender(env, fns) {
  const bk = env.buildkit;
  if (!bk || !bk.available) return { name: 'buildkit', available: false, reason: bk ? `BuildKit unavailable: ${bk.reason}` : 'not requested', run: async () => 0 };
  return { name: 'buildkit', ...fns };
}

export const emptyContext = (ws) => ws.path('empty-context', { mkdir: true });

/** The small multi-step build of the cold and cached scenarios. */
export function smallAppContainerfile(baseRef) {
  return [
    `FROM ${baseRef}`,
    'ENV APP_HOME=/app GREETING=hello',
    'WORKDIR /app',
    'RUN echo "$GREETING" > greeting.txt && mkdir -p bin data',
    'RUN for i in 1 2 3 4 5 6 7 8; do echo "item $i" > data/item$i; done',
    'ENV PATH=/app/bin:$PATH',
    `RUN printf '#!/bin/sh\\necho "$GREETING from $APP_HOME"\\n' > bin/hello && chmod +x bin/hello`,
    'WORKDIR /app/data',
    'RUN ls -l > /app/listing.txt && hello > /app/hello.txt',
    'LABEL org.example.bench=small-app',
    'CMD ["hello"]',
    '',
  ].join('\n');
}
