// Clean-up a build need not wait for step by step (a finished step's
// container files), and must wait for before it ends: every removal
// started with later() is awaited by drain(), which build() calls on its
// way out, success or failure, so nothing is left behind by a build that
// returns. A killed build leaves records its next start reaps.
import { BackgroundTasks } from '../../background-tasks.js';

const tasks = new BackgroundTasks();

/** Runs `p` in the background; its failure is ignored (the reaper retries). */
export function later(p: Promise<void>): void {
  tasks.later(p);
}

/** Waits for every background removal started so far. */
export async function drain(): Promise<void> {
  await tasks.drain();
}
