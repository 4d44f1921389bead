// Run the tsbuild CLI asynchronously with its own environment and stdin.
// The registry tests need this rather than spawnSync: a token server living
// in the test process must keep answering while the CLI runs.
import { spawn } from 'node:child_process';
import { tsbuildBin } from '../fixtures.js';

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(root: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeout?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [tsbuildBin, '--root', root, ...args], { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeout ?? 60_000);
    child.on('error', reject);
    child.on('close', (status) => { clearTimeout(timer); resolve({ status, stdout, stderr }); });
    child.stdin.end(opts.input ?? '');
  });
}

/** The environment with no credential locations but the ones given. */
export function credentialEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, HOME: home, ...extra };
  if (!('REGISTRY_AUTH_FILE' in extra)) delete env.REGISTRY_AUTH_FILE;
  if (!('XDG_RUNTIME_DIR' in extra)) delete env.XDG_RUNTIME_DIR;
  return env;
}
