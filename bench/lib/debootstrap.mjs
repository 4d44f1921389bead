// debootstrap --variant=minbase bookworm, the one way the benchmarks make a
// Debian root file system from Debian's packages (scripts/install-deps.sh
// installs debootstrap): the real-service base (bookworm.mjs) and the
// many-files pull images (many-files-image.mjs) both start from it.
import { existsSync, writeFileSync } from 'node:fs';
import { run } from '../../scripts/lib/proc.mjs';
import { unmountUnder } from '../../scripts/lib/teardown.mjs';

export const DEBOOTSTRAP = '/usr/sbin/debootstrap';
export const MIRROR = process.env.BENCH_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';

/** Makes a minbase bookworm tree in `rootfs` (minutes; needs the network); debootstrap's output goes to `logFile`. */
export async function debootstrapBookworm(rootfs, logFile) {
  if (!existsSync(DEBOOTSTRAP)) throw new Error(`${DEBOOTSTRAP} is missing: run scripts/install-deps.sh`);
  try {
    const r = await run(DEBOOTSTRAP, ['--variant=minbase', 'bookworm', rootfs, MIRROR], { env: { DEBIAN_FRONTEND: 'noninteractive' } });
    writeFileSync(logFile, `${r.stdout}\n${r.stderr}`);
  } finally {
    // debootstrap mounts /proc and /sys in the target; a failure can leave them.
    unmountUnder(rootfs);
  }
}
