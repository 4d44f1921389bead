// Cleaning up after crashes, on the next start: containers whose process
// is gone are marked exited (and removed if they were --rm), and cgroups
// named tsbuild/<id> with no container record are removed, and so are the
// spare container directories of processes that died. This is what
// makes kill -9 of the CLI leave nothing behind for long.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupRoot, removeCgroup, storeTag } from './cgroups.js';
import { refreshContainer } from './container.js';
import { reapSpares } from './spare-dir.js';
import { containersDir, listStates } from './state.js';

export function reapStale(root: string): void {
  const states = listStates(root);
  const known = new Set<string>();
  for (const s of states) {
    const after = refreshContainer(root, s);
    if (after && after.cgroupName) known.add(after.cgroupName);
  }
  reapSpares(containersDir(root));
  const mine = `tsbuild/${storeTag(root)}-`;
  for (const name of orphanCgroups(known)) if (name.startsWith(mine)) removeCgroup(name);
}

/** tsbuild/<id> cgroups (in any controller) that no container record names. */
function orphanCgroups(known: ReadonlySet<string>): string[] {
  const parents = [join(cgroupRoot(), 'tsbuild'), join(cgroupRoot(), 'pids/tsbuild'), join(cgroupRoot(), 'memory/tsbuild'), join(cgroupRoot(), 'cpu/tsbuild')];
  const found = new Set<string>();
  for (const p of parents) {
    let entries: string[] = [];
    try {
      entries = readdirSync(p, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch {
      continue;
    }
    for (const e of entries) found.add(`tsbuild/${e}`);
  }
  return [...found].filter((n) => !known.has(n));
}
