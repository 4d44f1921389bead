// The machine's state beside a benchmark's figures (issue 12 asks for it in
// the README): cores, memory, load, kernel and the versions of the tools
// compared, so that a figure taken on a loaded machine says so.
import { execFileSync } from 'node:child_process';
import { cpus, freemem, loadavg, release, totalmem } from 'node:os';
import { REPO } from './tsbuild.mjs';

function version(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n')[0];
  } catch {
    return 'not found';
  }
}

/** One line on the load now: the 1/5/15-minute load averages over the core count. */
export function loadLine() {
  const [a, b, c] = loadavg();
  const n = cpus().length;
  return `load ${a.toFixed(1)}/${b.toFixed(1)}/${c.toFixed(1)} on ${n} cores${a > n ? ' (LOADED: wall times are noisy)' : ''}`;
}

/** Prints the machine and tool versions, and the load now. */
export function printMachine(label) {
  const lines = [`  machine (${label}): ${cpus().length} x ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB (${(freemem() / 2 ** 30).toFixed(0)} free), Linux ${release()}, node ${process.version}`];
  lines.push(`  tools: tsbuild ${version('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD'])}, ${version('/usr/bin/buildah', ['--version'])}, ${version('/usr/sbin/dockerd', ['--version'])}`);
  lines.push(`  ${loadLine()} at ${new Date().toISOString()}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
