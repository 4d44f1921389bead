// Temp dirs of long-lived test helpers (registries, UML guests): each holds
// an `owner` file (the test process) and a `pid` file (the helper). A test
// run killed midway leaves them behind; the next run's global setup kills
// the helper and removes the dir, unless its owner still runs.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pidAlive } from '../../src/pid-alive.js';

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

/** For each /tmp/<prefix>* whose owner is gone: kill(pid) (the helper's recorded pid), then remove it. */
export function reapStaleDirs(prefix: string, kill: (pid: number) => void): void {
  for (const name of readdirSync('/tmp')) {
    if (!name.startsWith(prefix)) continue;
    const dir = join('/tmp', name);
    // A helper whose test process still lives belongs to a run in progress.
    const owner = Number(readOr(join(dir, 'owner')));
    if (owner > 0 && pidAlive(owner)) continue;
    const pid = Number(readOr(join(dir, 'pid')));
    try {
      if (pid > 0) kill(pid);
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
  }
}
