// Which user namespace a rootless CLI should join rather than create: that
// of a running container of the same store (see
// crates/native/src/userns.rs, join mode). Containers are cloned inside the
// CLI's namespace, so they share it; a CLI in a sibling namespace could not
// open their namespaces (exec) or signal their non-root processes.
import { readlinkSync } from 'node:fs';
import { isAlive } from '../../run/proc.js';
import { listStates } from '../../run/state.js';

function userNamespaceOf(pid: number | 'self'): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/user`);
  } catch {
    return undefined;
  }
}

/** The pid of a live container of `root` in a user namespace other than ours, if any. */
export function joinablePid(root: string): number | undefined {
  const own = userNamespaceOf('self');
  for (const s of listStates(root)) {
    // Detached ones first in practice (they outlive their CLI), but a foreground `run` of another CLI counts too.
    if (s.status !== 'running' || s.pid === undefined || !isAlive(s.pid, s.pidStartTime)) continue;
    const ns = userNamespaceOf(s.pid);
    if (ns !== undefined && ns !== own) return s.pid;
  }
  return undefined;
}
