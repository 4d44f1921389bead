// What this process may do to files, decided once: real root, "root" of a
// user namespace (rootless mode, src/cli/rootless.ts), or an ordinary user.
//
// Owns the two facts that differ between root and rootless: device nodes
// (mknod of a real device needs CAP_MKNOD in the initial namespace; as
// rootless buildah does, a layer's devices are skipped) and the xattr
// namespace overlayfs keeps its opaque marker in (`trusted.overlay.*` needs
// CAP_SYS_ADMIN on the host; a user-namespace mount uses `userxattr`, so
// layers unpacked there carry `user.overlay.opaque`).
import { native } from '../native/index.js';

let userns: boolean | undefined;

/** True when running in a user namespace other than the initial one. */
export function inUserNamespace(): boolean {
  userns ??= native().inUserNamespace();
  return userns;
}

/** Running as (namespace) root: entries may be chowned to their owners. */
export function canChown(): boolean {
  return process.getuid?.() === 0;
}

/** Device nodes (other than overlay's 0/0 whiteouts) can be made. */
export function canMakeDevices(): boolean {
  return canChown() && !inUserNamespace();
}

/** The xattr that marks an opaque directory in layers this process unpacks and mounts. */
export function opaqueXattr(): string {
  return inUserNamespace() ? 'user.overlay.opaque' : 'trusted.overlay.opaque';
}

/** overlayfs bookkeeping xattrs in either namespace: never layer content. */
export function isOverlayXattr(name: string): boolean {
  return name.startsWith('trusted.overlay.') || name.startsWith('user.overlay.');
}
