// Cleanup that must also run when the user presses Ctrl-C or the CLI is sent
// SIGTERM/SIGHUP: Node's default for those signals is to exit at once, with
// no `finally` run. While a cleanup is registered, the first such signal runs
// every registered cleanup (synchronously) and then re-raises itself with the
// default action, so the exit status still says "killed by SIGINT" and step
// containers still die with us (their parent-death signal). kill -9 cannot
// be caught: what it leaves is named after our pid, for the next start's clean.
const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const cleanups = new Set<() => void>();

function onSignal(sig: NodeJS.Signals): void {
  for (const fn of [...cleanups]) {
    try { fn(); } catch { /* best effort: the others must still run */ }
  }
  cleanups.clear();
  for (const s of SIGNALS) process.removeListener(s, onSignal);
  process.kill(process.pid, sig);
}

/** Run `fn` on an interrupt until the returned function is called (which also runs nothing). */
export function onInterrupt(fn: () => void): () => void {
  if (cleanups.size === 0) for (const s of SIGNALS) process.on(s, onSignal);
  cleanups.add(fn);
  return () => {
    cleanups.delete(fn);
    if (cleanups.size === 0) for (const s of SIGNALS) process.removeListener(s, onSignal);
  };
}
