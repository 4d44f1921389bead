#!/usr/bin/env node
// Issue 12, layer sizes: the same content built by tsbuild, buildah and
// BuildKit (docker 20.10's dockerd), each pushed to the local registry, and
// the pushed layer sizes compared. Then the uncompressed tars tsbuild made
// are compressed here at zlib levels 1, 6 and 9 in 1 MiB / 4 MiB members
// (tsbuild's old choice was level 1 in 4 MiB members) with the CPU each
// took, which is what DEFAULT_GZIP (src/store/codec/layer-gzip.ts) was
// chosen from. Sizes do not depend on machine load; CPU times do a little.
//   node bench/layer-sizes.mjs
import { copyFileSync, cpSync, createReadStream, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { run } from '../scripts/lib/proc.mjs';
import { runMain } from './lib/measure.mjs';
import { pullBase, setup, SKOPEO, writeContainerfile } from './lib/setup.mjs';
import { REPO } from './lib/tsbuild.mjs';

/** The context: JavaScript text (typescript's lib), shared libraries (binaries) and a file that is already gzip. */
function makeContext(dir) {
  mkdirSync(join(dir, 'bin'), { recursive: true });
  cpSync(join(REPO, 'node_modules/typescript/lib'), join(dir, 'text'), { recursive: true });
  let bytes = 0;
  const libs = '/usr/lib/x86_64-linux-gnu';
  for (const f of readdirSync(libs).sort()) {
    const p = join(libs, f);
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st?.isFile() || st.size < 256 << 10 || !/\.so/.test(f)) continue;
    copyFileSync(p, join(dir, 'bin', f));
    bytes += st.size;
    if (bytes > 24 << 20) break; // (one large library can take it well past this: 112 MiB here)
  }
}

const CONTAINERFILE = (base) => `FROM ${base}
COPY text /text/
COPY bin /bin2/
`;

async function pushedLayers(ref) {
  const r = await run(SKOPEO, ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`]);
  return JSON.parse(r.stdout).layers.map((l) => l.size);
}

/** Uncompressed layer tars of a docker-archive, in manifest order. */
async function dockerArchiveLayers(file) {
  const out = new Map();
  const ex = tar.extract();
  ex.on('entry', (h, stream, next) => {
    const parts = [];
    stream.on('data', (d) => parts.push(d));
    stream.on('end', () => { out.set(h.name, Buffer.concat(parts)); next(); });
  });
  await new Promise((res, rej) => { ex.on('finish', res); ex.on('error', rej); createReadStream(file).pipe(ex); });
  const manifest = JSON.parse(out.get('manifest.json').toString());
  return manifest[0].Layers.map((l) => out.get(l));
}

function gz(buf, level, block) {
  const t = process.cpuUsage();
  let size = 0;
  for (let off = 0; off < buf.length; off += block) size += gzipSync(buf.subarray(off, off + block), { level }).length;
  const c = process.cpuUsage(t);
  return { size, cpuMs: (c.user + c.system) / 1000 };
}

export async function main() {
  const env = await setup('layer-sizes');
  try {
    await pullBase(env);
    const ctx = env.ws.path('ctx', { mkdir: true });
    makeContext(ctx);
    const file = writeContainerfile(env.ws, 'Containerfile.sizes', CONTAINERFILE(env.baseRef));
    const reg = env.registry.host;
    const spec = { file, context: ctx, tag: 'bench/sizes:1' };

    await env.tsbuild.build(spec);
    await env.tsbuild.cmd(['push', '-q', 'bench/sizes:1', `${reg}/ts/sizes:1`]);
    const ts = (await pushedLayers(`${reg}/ts/sizes:1`)).slice(-2);

    await env.buildah.build(spec);
    await env.buildah.cmd(['push', '--tls-verify=false', 'bench/sizes:1', `docker://${reg}/buildah/sizes:1`]);
    const bah = (await pushedLayers(`${reg}/buildah/sizes:1`)).slice(-2);

    let bk = [undefined, undefined];
    if (env.buildkit?.available) {
      await env.buildkit.build({ ...spec, tag: `${reg}/bk/sizes:1` });
      await env.buildkit.docker(['push', `${reg}/bk/sizes:1`]);
      bk = (await pushedLayers(`${reg}/bk/sizes:1`)).slice(-2);
    }

    const archive = env.ws.path('ts.tar');
    await env.tsbuild.cmd(['save', '--format', 'docker-archive', '-o', archive, 'bench/sizes:1']);
    const tars = (await dockerArchiveLayers(archive)).slice(-2);

    const rows = [];
    const names = ['text (typescript/lib)', 'binaries (.so)'];
    for (const [i, t] of tars.entries()) {
      const lv = {};
      for (const level of [1, 6, 9]) for (const block of [1 << 20, 4 << 20]) lv[`L${level}/${block >> 20}M`] = gz(t, level, block);
      rows.push({ layer: names[i], tar: t.length, tsbuild: ts[i], buildah: bah[i], buildkit: bk[i], ...lv });
    }
    const mib = (n) => (n === undefined ? 'n/a' : (n / 2 ** 20).toFixed(2));
    const pct = (n, ref) => (n === undefined || ref === undefined ? '' : ` (${((n / ref - 1) * 100).toFixed(1)}%)`);
    process.stdout.write('| layer | tar MiB | tsbuild pushed | buildah | BuildKit | L1/4M (old) | L6/1M | L6/4M | L9/4M |\n|---|---|---|---|---|---|---|---|---|\n');
    for (const r of rows) {
      const ref = r.buildah;
      const cell = (k) => `${mib(r[k].size)}${pct(r[k].size, ref)}, ${r[k].cpuMs.toFixed(0)} ms`;
      process.stdout.write(`| ${r.layer} | ${mib(r.tar)} | ${mib(r.tsbuild)}${pct(r.tsbuild, ref)} | ${mib(r.buildah)} | ${mib(r.buildkit)}${pct(r.buildkit, ref)} | ${cell('L1/4M')} | ${cell('L6/1M')} | ${cell('L6/4M')} | ${cell('L9/4M')} |\n`);
    }
    return [];
  } finally {
    await env.ws.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runMain(main);
