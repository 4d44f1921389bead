#!/usr/bin/env node
// Diagnostic for issue 12: is a build step's command slower inside
// tsbuild's container than under runc? The go service's builder stage
// (bench/lib/services.mjs, up to `COPY . .`) is built by tsbuild, pushed to
// the local registry and pulled by podman, then the same workload runs in a
// fresh container of each, alternating: `tsbuild run --rm` and
// `podman --runtime /usr/sbin/runc run --rm` (what BuildKit's runc worker
// does for a RUN, without the daemon), both --network none. Reported: wall
// time (tsbuild's includes Node's start and the container's set-up) and the
// workload's own CPU time (user+sys of its children, from bash's `times`
// inside the container), which the machine's load does not change much:
// seccomp, cgroup placement, overlay options or /proc views that cost the
// workload would show there. No target; not part of bench/run.mjs.
//   node bench/step-runtime.mjs [--runs N]          (default 3 runs each)
//   STEP_CMD='...' overrides the workload (default: go vet + go build, build cache removed after);
//   STEP_NETWORK=host for one that downloads.
import { pushBookworm } from './lib/bookworm.mjs';
import { Buildah } from './lib/buildah.mjs';
import { loadLine, printMachine } from './lib/machine.mjs';
import { alternate, median, report, runMain } from './lib/measure.mjs';
import { writeServices } from './lib/services.mjs';
import { setup, writeContainerfile } from './lib/setup.mjs';
import { run } from '../scripts/lib/proc.mjs';

const DEFAULT_CMD = 'cd /src && go vet ./... && go build -ldflags=-s -o /tmp/q . && rm -rf /root/.cache/go-build';

/** The children's user and sys seconds from the last line of bash's `times` (`0m9.439s 0m2.506s`). */
export function childTimes(stdout) {
  const last = stdout.trim().split('\n').at(-1) ?? '';
  const secs = [...last.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  if (secs.length !== 2) throw new Error(`no \`times\` line in the workload's output: ${last}`);
  return { user: secs[0], sys: secs[1] };
}

export async function main(opts) {
  const runs = opts.quick ? 1 : (opts.runs ?? 3);
  const cmd = process.env.STEP_CMD ?? DEFAULT_CMD;
  // host for a workload that downloads (apt-get install, npm ci); none otherwise.
  const network = process.env.STEP_NETWORK ?? 'none';
  const env = await setup('step-runtime', { buildkit: false });
  try {
    printMachine('start');
    const base = await pushBookworm(env);
    const svc = (await writeServices(env.ws.path('services', { mkdir: true }), base)).go;
    const file = writeContainerfile(env.ws, 'Containerfile.stage', `${svc.containerfile.split('\nRUN go vet')[0]}\n`);
    await env.tsbuild.cmd(['build', '--progress', 'plain', '--network', 'host', '-f', file, '-t', 'stage:1', svc.context]);
    const ref = `${env.registry.host}/bench/stage:1`;
    await env.tsbuild.cmd(['push', '-q', 'stage:1', ref]);
    // podman refuses a runroot path longer than 50 characters: short names under the workspace.
    const storage = new Buildah(env.ws.path('pr'), env.ws.path('pq'));
    env.ws.onClose(() => storage.wipe());
    const podman = ['--root', storage.root, '--runroot', storage.runroot, '--storage-driver', 'overlay', '--runtime', '/usr/sbin/runc'];
    await run('/usr/bin/podman', [...podman, 'pull', '-q', '--tls-verify=false', ref]);
    const workload = ['bash', '-c', `${cmd}; times`];
    const cpu = { tsbuild: [], runc: [] };
    const timed = (name, fn) => async () => {
      const r = await fn();
      const t = childTimes(r.stdout);
      cpu[name].push(t.user + t.sys);
      process.stderr.write(`  ${name}: workload user ${t.user.toFixed(2)} s, sys ${t.sys.toFixed(2)} s\n`);
      return r.ms;
    };
    const results = await alternate([
      { name: 'tsbuild', run: timed('tsbuild', () => env.tsbuild.cmd(['run', '--rm', '--network', network, 'stage:1', ...workload])) },
      { name: 'runc', run: timed('runc', () => run('/usr/bin/podman', [...podman, 'run', '--rm', '--network', network, ref, ...workload])) },
    ], runs);
    const records = report('step-runtime', `\`${cmd}\` in the go builder stage, tsbuild run vs podman+runc; ${runs} run(s) each, alternating`, results, { runc: undefined }, opts);
    const [t, r] = [median(cpu.tsbuild), median(cpu.runc)];
    process.stdout.write(`  workload CPU (user+sys, median): tsbuild ${t.toFixed(2)} s, runc ${r.toFixed(2)} s, ratio ${(t / r).toFixed(3)}\n  ${loadLine()}\n`);
    printMachine('end');
    return records;
  } finally {
    await env.ws.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runMain(main);
