// tsbuild as a user runs it: `bin/tsbuild.js --root STORE …` started as a
// program (its shebang, as `tsbuild` on PATH), a new process per command (so
// Node's start-up and module loading are counted, as they are for every CI
// step). Profiling runs (nodeFlags) start `node FLAGS bin/tsbuild.js`. Builds use `--progress json` so that the
// per-step timings can be collected without a second run.
import { existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { run } from '../../scripts/lib/proc.mjs';

export const REPO = resolve(import.meta.dirname, '../..');
/** The CLI under test: this checkout's, or another build's (TSBUILD_BIN, e.g. from bench/snapshot.mjs). */
export const TSBUILD_BIN = process.env.TSBUILD_BIN ? resolve(process.env.TSBUILD_BIN) : join(REPO, 'bin/tsbuild.js');

/** Fails early, with the fix, when dist/ has not been built. */
export function checkBuilt() {
  // tsbuild.cjs since the one-file bundle; main.js in a snapshot of an older revision.
  if (!['tsbuild.cjs', 'main.js'].some((f) => existsSync(join(TSBUILD_BIN, '../../dist/bundle', f)))) {
    throw new Error(`${join(TSBUILD_BIN, '../../dist/bundle')} is missing: run \`npm run build:ts\` first`);
  }
}

export class Tsbuild {
  constructor(root) {
    this.root = root;
    /** Extra node flags (e.g. --cpu-prof) for a profiling run. */
    this.nodeFlags = [];
  }

  /** [program, args] of a tsbuild command (for run, perf stat, …). */
  argv(args) {
    if (this.nodeFlags.length === 0) return [TSBUILD_BIN, ['--root', this.root, ...args]];
    return [process.execPath, [...this.nodeFlags, TSBUILD_BIN, '--root', this.root, ...args]];
  }

  cmd(args, opts = {}) {
    const [prog, argv] = this.argv(args);
    return run(prog, argv, opts);
  }

  buildArgs({ file, context, tag, noCache = false, network = 'none', extra = [] }) {
    const args = ['build', '--progress', 'json', '--network', network, '-f', file];
    if (tag) args.push('-t', tag);
    if (noCache) args.push('--no-cache');
    return [...args, ...extra, context];
  }

  /** A build; returns the process result plus its parsed JSON events. */
  async build(spec) {
    const r = await this.cmd(this.buildArgs(spec));
    return { ...r, events: parseEvents(r.stderr) };
  }

  /** Removes the whole store (a cold start for the next command). */
  wipe() {
    rmSync(this.root, { recursive: true, force: true });
  }
}

export function parseEvents(stderr) {
  const events = [];
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      events.push(JSON.parse(line));
    } catch { /* a non-JSON line */ }
  }
  return events;
}
