// Running the tools under test (and the oracles' daemons) as child processes
// and timing them by wall clock, from spawn to exit, as a user's shell or CI
// step would see them. Shared by the benchmarks and the integration tests.
// Output is kept (tsbuild's JSON progress is parsed afterwards) but capped,
// so a chatty tool cannot make the harness itself slow or large.
import { spawn } from 'node:child_process';

const KEEP = 4 << 20;

function keep(buf, chunk) {
  buf.push(chunk);
  buf.size = (buf.size ?? 0) + chunk.length;
  while (buf.size > KEEP && buf.length > 1) buf.size -= buf.shift().length;
}

/**
 * Runs `cmd args` to completion. Resolves with {code, signal, stdout,
 * stderr, ms}; rejects with the tail of the output when it fails, unless
 * `allowFail`.
 */
export function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const out = [];
    const err = [];
    const t0 = performance.now();
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ? { ...process.env, ...opts.env } : process.env,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (opts.input !== undefined) child.stdin.end(opts.input);
    child.stdout.on('data', (c) => keep(out, c));
    child.stderr.on('data', (c) => keep(err, c));
    let timer;
    if (opts.timeoutMs) timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`${cmd}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      const ms = performance.now() - t0;
      clearTimeout(timer);
      const result = { code, signal, ms, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
      if ((code !== 0 || signal) && !opts.allowFail) {
        const tail = `${result.stdout}\n${result.stderr}`.trim().split('\n').slice(-15).join('\n');
        reject(new Error(`${[cmd, ...args].join(' ')} failed (${signal ?? `exit ${code}`}):\n${tail}`));
        return;
      }
      resolve(result);
    });
  });
}

/** Stops a long-lived child: SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
export async function stopChild(child, graceMs) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
