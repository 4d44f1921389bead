// Runs store operations in child processes (the compiled dist/, as the CLI
// does), so tests can kill them mid-write or race several against one store.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { repoDir } from '../fixtures.js';

const distStore = join(repoDir, 'dist/store/index.js');

/**
 * Start `node` running `body` (an async ES module body) with `openStore` and
 * `root`/`args` in scope. Resolves to the child; use `exited(child)` to wait.
 */
export function storeChild(root: string, body: string, args: string[] = []): ChildProcess {
  const script = `import { openStore } from ${JSON.stringify(distStore)};
const [root, ...args] = process.argv.slice(1);
const store = await openStore(root);
${body}
await store.close();`;
  return spawn(process.execPath, ['--input-type=module', '-e', script, root, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

/** Resolve once the child prints `line` on stdout. */
export function waitForLine(child: ChildProcess, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.split('\n').includes(line)) resolve();
    });
    child.on('close', () => reject(new Error(`child exited before printing ${line}`)));
  });
}
