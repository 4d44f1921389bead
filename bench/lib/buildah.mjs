// buildah (Debian's) with its own storage under the workspace: --root,
// --runroot and the overlay driver, runc as its runtime. Builds use
// --layers (a layer per step, as tsbuild and BuildKit make) and
// --network none, like the other two.
import { existsSync, rmSync } from 'node:fs';
import { run } from '../../scripts/lib/proc.mjs';
import { unmountUnder } from './workspace.mjs';

export const BUILDAH = '/usr/bin/buildah';

export class Buildah {
  constructor(root, runroot) {
    this.root = root;
    this.runroot = runroot;
  }

  get global() {
    return ['--root', this.root, '--runroot', this.runroot, '--storage-driver', 'overlay'];
  }

  /** [program, args] of a buildah command (for run, perf stat, …). */
  argv(args) {
    return [BUILDAH, [...this.global, ...args]];
  }

  cmd(args, opts = {}) {
    return run(BUILDAH, [...this.global, ...args], opts);
  }

  /**
   * A build. `pull`: buildah's --pull policy; `false` uses the local base
   * image as tsbuild and BuildKit do (buildah's default, `true`, asks the
   * registry for a newer one on every build).
   */
  buildArgs({ file, context, tag, noCache = false, pull = 'false', network = 'none', extra = [] }) {
    const args = ['--runtime', '/usr/sbin/runc', 'bud', '--layers', '--network', network, `--pull=${pull}`, '--tls-verify=false', '-f', file];
    if (tag) args.push('-t', tag);
    if (noCache) args.push('--no-cache');
    return [...args, ...extra, context];
  }

  build(spec) {
    return this.cmd(this.buildArgs(spec));
  }

  /** Removes containers, images and the storage dirs. */
  async wipe() {
    if (existsSync(this.root)) {
      await this.cmd(['rm', '-a'], { allowFail: true });
      await this.cmd(['rmi', '-a', '-f'], { allowFail: true });
    }
    for (const d of [this.root, this.runroot]) {
      unmountUnder(d);
      rmSync(d, { recursive: true, force: true });
    }
  }
}
