// Smoke test of the benchmarks (bench/): each script runs once in quick mode
// (tiny inputs, one run per tool) against the real buildah, skopeo,
// docker-registry and dockerd/BuildKit, exits 0, prints one ratio line per
// peer, and leaves nothing behind. It never asserts on the ratio values:
// quick-mode figures measure nothing, and CI machines vary.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoDir } from '../fixtures.js';

const RATIO = /^ratio: (\S+) tsbuild\/(\S+) (\d+\.\d+|n\/a)\b/;

interface BenchRun { status: number | null; stdout: string; stderr: string; workspaces: string[] }

/**
 * Runs one script in quick mode. Asynchronously: a spawnSync of several
 * minutes blocks the vitest worker's event loop, and vitest then fails the
 * file ("Timeout calling onTaskUpdate") though the test passed. Past
 * `timeoutMs` the script gets SIGTERM (it cleans up), then SIGKILL.
 */
function runBench(script: string, timeoutMs: number): Promise<BenchRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoDir, 'bench', script), '--quick'], {
      cwd: repoDir,
      env: { ...process.env, BENCH_RUNS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    let kill: NodeJS.Timeout | undefined;
    const term = setTimeout(() => {
      child.kill('SIGTERM');
      kill = setTimeout(() => child.kill('SIGKILL'), 60_000);
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(term);
      clearTimeout(kill);
      const workspaces = [...stderr.matchAll(/^bench: workspace (\S+)$/gm)].map((m) => m[1] as string);
      resolve({ status: code, stdout, stderr, workspaces });
    });
  });
}

function ratios(stdout: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const m = RATIO.exec(line);
    if (m) found.set(`${m[1]} ${m[2]}`, m[3] as string);
  }
  return found;
}

/** Nothing of the run may remain: its dir, a mount under it, or a process started there. */
function expectCleanedUp(workspaces: string[]): void {
  expect(workspaces.length).toBeGreaterThan(0);
  const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
  for (const ws of workspaces) {
    expect(existsSync(ws)).toBe(false);
    expect(mountinfo.includes(ws)).toBe(false);
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      let cmd = '';
      try {
        cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch { /* exited */ }
      expect(cmd.includes(ws), `process ${pid} (${cmd.replaceAll('\0', ' ')}) outlived the benchmark`).toBe(false);
    }
  }
}

/** [script, ratio lines it must print, minutes it may take (4 unless said)]. */
const cases: [string, string[], number?][] = [
  ['per-step.mjs', ['per-step buildkit', 'per-step buildah']],
  ['large-context.mjs', ['large-context buildkit', 'large-context buildah']],
  ['cold-build.mjs', ['cold-build buildah', 'cold-build buildkit']],
  ['cached-rebuild.mjs', ['cached-rebuild buildah', 'cached-rebuild buildkit']],
  ['pull-push.mjs', ['pull skopeo-cs', 'pull skopeo-oci', 'push skopeo']],
  ['pull-many-files.mjs', ['pull-many-files skopeo-cs', 'pull-50-layers 2-layers', 'push-50-layers 2-layers']],
  ['depth.mjs', ['depth-2 buildah', 'depth-4 buildkit', 'depth-growth tsbuild@2']],
  ['multi-platform.mjs', ['multi-platform buildah']],
  ['fresh-runner.mjs', ['fresh-runner buildah', 'fresh-runner buildkit']],
  ['rootless.mjs', ['rootless buildah', 'rootless tsbuild-root']],
  ['scaling.mjs', ['scale-step tsbuild@2', 'scale-context tsbuild@200', 'scale-pull tsbuild@2', 'scale-push tsbuild@2']],
  // The Go service only in quick mode, but apt-get, go and npm still fetch from their registries and go compiles its std library.
  ['real-service.mjs', ['real-go-cold buildkit', 'real-go-cached buildah', 'real-go-changed buildkit'], 20],
];

describe('benchmarks in quick mode', () => {
  for (const [script, expected, minutes = 4] of cases) {
    it(`${script} runs every tool and prints its ratios`, { timeout: (minutes + 2) * 60_000 }, async () => {
      const r = await runBench(script, minutes * 60_000);
      expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
      const found = ratios(r.stdout);
      for (const key of expected) expect(found.has(key), `no "ratio: ${key.replace(' ', ' tsbuild/')}" line in:\n${r.stdout}`).toBe(true);
      // Every peer runs here, BuildKit included: a missing oracle is a failure, not an n/a (issue 15).
      for (const [key, value] of found) expect(value, `ratio ${key} is n/a:\n${r.stderr}`).not.toBe('n/a');
      expectCleanedUp(r.workspaces);
    });
  }
});
