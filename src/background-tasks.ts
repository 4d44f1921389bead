// Work a caller need not wait for, but that must be finished before the
// command ends: a tree being deleted after its step, a second copy of a
// layer. Each owner (the build's step clean-up, the layer store) keeps one
// BackgroundTasks and drains it on its way out, so nothing is left behind
// by a command that returns; a killed one leaves records the next start
// reaps. A shared leaf (no imports).
export class BackgroundTasks {
  private readonly running = new Set<Promise<void>>();

  /** Runs `p` in the background; its failure is ignored (the reaper retries). */
  later(p: Promise<void>): void {
    const tracked: Promise<void> = p.catch(() => undefined).finally(() => this.running.delete(tracked));
    this.running.add(tracked);
  }

  /** Waits for every task started so far, and for those they started meanwhile. */
  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }
}
