// The pure parts behind bench/real-service.mjs and bench/scaling.mjs: the
// bookworm base's Env (the CA and proxy variables a corporate base carries)
// and its layout writer (one gzip layer whose digests check out, hard links
// kept as links, runtime mount points left empty), the services' one-file
// edit, and the growth verdicts. No root, no network: the scenarios
// themselves run in test/integration/bench.
import { createHash } from 'node:crypto';
import { linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as tar from 'tar-stream';
// @ts-expect-error: plain .mjs modules without type declarations
import { imageEnv, LOCAL_NAME, writeLayout } from '../../../bench/lib/bookworm.mjs';
// @ts-expect-error: plain .mjs modules without type declarations
import { goContainerfile, goQuotes, nodeContainerfile, nodeServer } from '../../../bench/lib/services.mjs';
// @ts-expect-error: plain .mjs modules without type declarations
import { growthOf } from '../../../bench/lib/growth.mjs';
// @ts-expect-error: plain .mjs modules without type declarations
import { printBreakdown, printVersus } from '../../../bench/lib/breakdown.mjs';
// @ts-expect-error: plain .mjs modules without type declarations
import { buildkitStepsOf } from '../../../bench/lib/buildkit-steps.mjs';
// @ts-expect-error: plain .mjs modules without type declarations
import { childTimes } from '../../../bench/step-runtime.mjs';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'real-service-lib-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface Entry { name: string; type: string; linkname?: string; body: string }
async function entriesOf(tarBytes: Buffer): Promise<Entry[]> {
  const ex = tar.extract();
  const out: Entry[] = [];
  ex.on('entry', (h, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      out.push({ name: h.name, type: h.type ?? 'file', linkname: h.linkname ?? undefined, body: Buffer.concat(chunks).toString() });
      next();
    });
  });
  const done = new Promise((resolve) => ex.on('finish', resolve));
  ex.end(tarBytes);
  await done;
  return out;
}

describe('bench/lib/bookworm', () => {
  it('points the CA variables at the bundle and carries only the proxy variables the host sets', () => {
    const env = imageEnv({ https_proxy: 'http://proxy.example:3128', HOME: '/root' }) as string[];
    expect(env[0]).toMatch(/^PATH=\/usr\/local\/sbin:/);
    for (const k of ['SSL_CERT_FILE', 'NODE_EXTRA_CA_CERTS', 'PIP_CERT', 'REQUESTS_CA_BUNDLE']) expect(env).toContain(`${k}=/etc/ssl/certs/ca-certificates.crt`);
    expect(env).toContain('https_proxy=http://proxy.example:3128');
    expect(env.some((e) => e.startsWith('HOME=') || e.startsWith('http_proxy='))).toBe(false);
  });

  it('writes a one-layer OCI layout whose digests verify, with hard links as links and /proc, /dev left empty', async () => {
    const root = join(tempDir(), 'rootfs');
    mkdirSync(join(root, 'usr/bin'), { recursive: true });
    mkdirSync(join(root, 'proc/1'), { recursive: true });
    mkdirSync(join(root, 'dev'), { recursive: true });
    writeFileSync(join(root, 'dev/null-ish'), 'x');
    writeFileSync(join(root, 'proc/1/status'), 'x');
    writeFileSync(join(root, 'usr/bin/tool'), 'tool body');
    linkSync(join(root, 'usr/bin/tool'), join(root, 'usr/bin/tool-alias'));
    symlinkSync('tool', join(root, 'usr/bin/t'));
    const layout = join(tempDir(), 'layout');
    const { digest } = await writeLayout(root, layout);

    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
    expect(index.manifests[0].annotations['io.containerd.image.name']).toBe(LOCAL_NAME);
    const blob = (d: string): Buffer => readFileSync(join(layout, 'blobs/sha256', d.slice(7)));
    const manifestBytes = blob(index.manifests[0].digest);
    expect(sha(manifestBytes)).toBe(index.manifests[0].digest);
    const manifest = JSON.parse(manifestBytes.toString());
    expect(manifest.layers).toHaveLength(1);
    expect(manifest.layers[0].digest).toBe(digest);
    const gz = blob(digest);
    expect(sha(gz)).toBe(digest);
    expect(gz.length).toBe(manifest.layers[0].size);
    const config = JSON.parse(blob(manifest.config.digest).toString());
    const layer = gunzipSync(gz);
    expect(config.rootfs.diff_ids).toEqual([sha(layer)]);
    expect(config.config.Env).toContain('SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt');

    const entries = await entriesOf(layer);
    const byName = new Map(entries.map((e) => [e.name.replace(/\/$/, ''), e]));
    expect(byName.get('proc')?.type).toBe('directory');
    expect(byName.get('dev')?.type).toBe('directory');
    expect([...byName.keys()].some((n) => n.startsWith('proc/') || n.startsWith('dev/'))).toBe(false);
    const [first, second] = ['usr/bin/tool', 'usr/bin/tool-alias'].map((n) => byName.get(n) as Entry);
    expect(first.type).toBe('file');
    expect(first.body).toBe('tool body');
    expect(second.type).toBe('link');
    expect(second.linkname).toBe('usr/bin/tool');
    expect(byName.get('usr/bin/t')).toMatchObject({ type: 'symlink', linkname: 'tool' });
  });
});

describe('bench/lib/services', () => {
  it('builds both services on the given base, multi-stage', () => {
    for (const text of [goContainerfile('127.0.0.1:5000/bookworm:latest'), nodeContainerfile('127.0.0.1:5000/bookworm:latest')]) {
      const froms = text.split('\n').filter((l: string) => l.startsWith('FROM '));
      expect(froms).toHaveLength(2);
      for (const f of froms) expect(f).toMatch(/^FROM 127\.0\.0\.1:5000\/bookworm:latest\b/);
    }
  });

  it('edits one source file to a new version, and only its version line changes', () => {
    const [a, b] = [goQuotes('v1'), goQuotes('v2')].map((s: string) => s.split('\n'));
    expect(a.filter((l: string, i: number) => l !== b[i])).toEqual(['const Version = "v1"']);
    expect(nodeServer('v1')).not.toBe(nodeServer('v2'));
  });
});

describe('bench/lib/growth', () => {
  it('calls a cost flat, sublinear, linear or superlinear against its input ratio', () => {
    expect(growthOf(100, 110, 10, 300)).toMatchObject({ verdict: 'flat', linearOrBetter: true });
    expect(growthOf(100, 300, 20_000, 200_000)).toMatchObject({ verdict: 'sublinear', linearOrBetter: true });
    expect(growthOf(100, 950, 5, 50)).toMatchObject({ verdict: 'linear', linearOrBetter: true });
    const worse = growthOf(100, 2000, 5, 50);
    expect(worse).toMatchObject({ verdict: 'SUPERLINEAR', linearOrBetter: false });
    expect(worse.exponent).toBeCloseTo(Math.log(20) / Math.log(10), 6);
  });
});

describe('bench/lib/breakdown slowest steps', () => {
  it('lists the slowest steps by their text, mean over the runs, slowest first', () => {
    const run = (aptMs: number): { wallMs: number; events: object[] } => ({
      wallMs: aptMs + 2000,
      events: [
        { type: 'step', stage: 'build', n: 1, text: 'RUN apt-get update && apt-get install -y golang-go' },
        { type: 'done', stage: 'build', step: 1, durationMs: aptMs, timings: { run: aptMs - 100, commit: 100 } },
        { type: 'step', stage: 'build', n: 2, text: 'COPY . .' },
        { type: 'done', stage: 'build', step: 2, durationMs: 50, timings: { copy: 30, commit: 20 } },
        { type: 'step', stage: '1', n: 1, text: 'COPY --from=build /out/quotes /usr/local/bin/quotes' },
        { type: 'done', stage: '1', step: 1, durationMs: 40, timings: { copy: 30, commit: 10 } },
      ],
    });
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => { out.push(String(s)); return true; });
    try {
      printBreakdown('t', [run(10_000), run(20_000)], { steps: 2 });
    } finally {
      spy.mockRestore();
    }
    const listed = out.join('').split('\n').filter((l) => /^ {6}\s*\d+\.\d\d s {2}/.test(l));
    expect(listed).toHaveLength(2);
    expect(listed[0]).toContain('15.00 s  build: RUN apt-get update');
    expect(listed[0]).toContain('run 14.90 + commit 0.10 s');
    expect(listed[1]).toContain('0.05 s  build: COPY . .');
  });
});

// Lines as docker 20.10's BuildKit prints them with --progress plain (a
// cold and a one-file-changed build of the go service, trimmed): the FROM
// vertex is printed again, CACHED, when the second stage reaches it, and a
// vertex's name comes back when another vertex printed in between.
const BK_COLD = `#1 [internal] load build definition from Containerfile.go
#1 transferring dockerfile: 592B done
#1 DONE 0.0s

#3 [internal] load metadata for 127.0.0.1:37381/bookworm:latest
#3 DONE 0.0s

#4 [build 1/7] FROM 127.0.0.1:37381/bookworm:latest@sha256:00c0
#4 resolve 127.0.0.1:37381/bookworm:latest@sha256:00c0 done
#4 extracting sha256:9d1f 2.1s done
#4 DONE 5.0s

#5 [build 2/7] RUN apt-get update && apt-get install -y --no-install-recommends golang-go && rm -rf /var/lib/apt/lists/*
#5 0.512 Get:1 http://deb.debian.org/debian bookworm InRelease [151 kB]

#7 [internal] load build context
#7 transferring context: 3.1kB done
#7 DONE 0.0s

#5 [build 2/7] RUN apt-get update && apt-get install -y --no-install-recommends golang-go && rm -rf /var/lib/apt/lists/*
#5 21.80 Setting up golang-go (2:1.19~1) ...
#5 DONE 22.3s

#11 [build 7/7] RUN go vet ./... && go build -ldflags=-s -o /out/quotes .
#11 DONE 8.4s

#4 [build 1/7] FROM 127.0.0.1:37381/bookworm:latest@sha256:00c0
#4 CACHED

#12 [stage-1 2/2] COPY --from=build /out/quotes /usr/local/bin/quotes
#12 DONE 0.1s

#13 exporting to image
#13 exporting layers 0.3s done
#13 writing image sha256:23df done
#13 naming to docker.io/bench/real-go:latest done
#13 DONE 0.4s
`;

describe('bench/lib/buildkit-steps', () => {
  it('reads executed steps, cached vertices and time outside steps from plain progress', () => {
    const r = buildkitStepsOf(BK_COLD);
    expect(r.steps).toEqual([
      { stage: 'build', kind: 'RUN', text: 'build: RUN apt-get update && apt-get install -y --no-install-recommends golang-go && rm -rf /var/lib/apt/lists/*', ms: 22_300 },
      { stage: 'build', kind: 'RUN', text: 'build: RUN go vet ./... && go build -ldflags=-s -o /out/quotes .', ms: 8400 },
      { stage: 'stage-1', kind: 'COPY', text: 'stage-1: COPY --from=build /out/quotes /usr/local/bin/quotes', ms: 100 },
    ]);
    expect(r.stepsMs).toBeCloseTo(30_800, 6);
    // The FROM printed DONE once and CACHED for the second stage: the pull is not lost, nor counted as a step.
    expect(r.outside.map((o: { text: string; ms: number }) => [o.text, o.ms])).toEqual([['[internal] load build definition from Containerfile.go', 0], ['[internal] load metadata for 127.0.0.1:37381/bookworm:latest', 0], ['[build] FROM 127.0.0.1:37381/bookworm:latest@sha256:00c0', 5000], ['[internal] load build context', 0], ['exporting to image', 400]]);
    expect(r.cached).toBe(0);
    expect(buildkitStepsOf('#6 [build 3/7] WORKDIR /src\n#6 CACHED\n').cached).toBe(1);
    // One stage: no stage name in the brackets.
    expect(buildkitStepsOf('#5 [1/2] FROM 127.0.0.1:1/b@sha256:00\n#5 DONE 4.6s\n#6 [2/2] RUN true\n#6 DONE 0.3s\n')).toMatchObject({ steps: [{ stage: 'stage-0', text: 'stage-0: RUN true', ms: 300 }], outside: [{ text: '[stage-0] FROM 127.0.0.1:1/b@sha256:00', ms: 4600 }] });
  });

  it('prints both tools per step, an unnamed stage matched to stage-N, and each one\'s time outside steps', () => {
    const ts = {
      wallMs: 33_000,
      events: [
        { type: 'step', stage: 'build', n: 2, text: 'RUN apt-get update && apt-get install -y --no-install-recommends golang-go && rm -rf /var/lib/apt/lists/*' },
        { type: 'done', stage: 'build', step: 2, durationMs: 20_000, timings: { run: 19_000, commit: 1000 } },
        { type: 'step', stage: '1', n: 2, text: 'COPY --from=build /out/quotes /usr/local/bin/quotes' },
        { type: 'done', stage: '1', step: 2, durationMs: 50, timings: { copy: 30, commit: 20 } },
      ],
    };
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => { out.push(String(s)); return true; });
    try {
      printVersus('go cold', [ts], [{ wallMs: 36_000, stderr: BK_COLD }]);
    } finally {
      spy.mockRestore();
    }
    const lines = out.join('').split('\n');
    expect(lines.find((l) => l.includes('RUN apt-get'))).toMatch(/^ +20\.00 +22\.30 +0\.90x +build: RUN apt-get/);
    expect(lines.find((l) => l.includes('COPY --from'))).toMatch(/^ +0\.05 +0\.10 +0\.50x +1: COPY --from=build/);
    expect(lines.find((l) => l.includes('go vet'))).toMatch(/^ +- +8\.40 +build: RUN go vet/);
    expect(lines.find((l) => l.includes('outside steps: tsbuild'))).toContain('tsbuild 12.95 s, BuildKit 5.20 s');
    expect(lines.find((l) => l.includes('BuildKit outside steps'))).toMatch(/FROM 127\.0\.0\.1:37381\/bookworm.* 5\.00; exporting to image 0\.40; no vertex -0\.20 s/);
  });
});

describe('bench/step-runtime', () => {
  it("reads the workload's children CPU time from bash's `times`, and refuses output without it", () => {
    expect(childTimes('vet ok\n0m0.004s 0m0.008s\n1m9.439s 0m2.506s\n')).toEqual({ user: 69.439, sys: 2.506 });
    expect(() => childTimes('no times here\n')).toThrow(/no `times` line/);
  });
});
