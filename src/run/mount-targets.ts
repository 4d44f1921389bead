// Where a container's mounts really go inside its root filesystem.
//
// The runtime creates each mount target (mkdir -p, or an empty file) and
// mounts onto it by path below the overlay's mountpoint, before the
// process starts. A symlink in the image, or one a container left in its
// own read-write layer, on such a path would otherwise be followed on the
// host: `/data -> /etc` plus `-v src:/data/x` (or RUN --mount=…,target=/data/x)
// would create /etc/x on the host. So every target is resolved first in the
// merged layer stack the way openat2(RESOLVE_IN_ROOT) would, as docker does
// ("the target follows symlinks inside the container"), and the runtime gets
// a path whose existing components are all real directories of the stack.
//
// /proc, /sys and /dev are the runtime's own mountpoints: an image may not
// make them links (runc refuses the same), and targets below them are on
// the filesystems mounted there, not in the image.
import { TsbuildError } from '../errors.js';
import { stackView } from '../image/stack-view.js';

const RUNTIME_MOUNTS = ['/proc', '/sys', '/dev'];

export interface MountTarget {
  target: string;
}

function underRuntimeMount(path: string): boolean {
  return RUNTIME_MOUNTS.some((m) => path === m || path.startsWith(`${m}/`));
}

/**
 * Check the runtime's mountpoints and return `binds` with each target
 * resolved in the stack of image layers `layerDirs` (bottom first) and the
 * container's `own` layers on them (the init layer, the read-write layer).
 */
export function resolveMountTargets<T extends MountTarget>(layerDirs: readonly string[], binds: readonly T[], own: readonly string[] = []): T[] {
  const view = stackView(layerDirs, own);
  for (const m of RUNTIME_MOUNTS) {
    const st = view.lstat(m);
    if (st && !st.isDirectory()) {
      throw new TsbuildError('E_UNSAFE_ROOTFS', `the image's ${m} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}; the runtime mounts its own ${m} there`);
    }
  }
  return binds.map((b) => (underRuntimeMount(b.target) ? b : { ...b, target: view.resolve(b.target, { followFinal: true }) }));
}
