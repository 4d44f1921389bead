// How deep a container's overlay may stack. The native side mounts any
// depth the kernel takes (the mount API, or fd-relative names for mount(2));
// past overlayfs' own limit the kernel would only answer EINVAL, so the
// limit is checked here first and named in a one-line error, as BuildKit
// and buildah do ("max depth exceeded", at their 127/128 layers).
import { TsbuildError, type ErrorLocation } from '../errors.js';

/** overlayfs' OVL_MAX_STACK: lower layers one overlay may have. */
export const MAX_LOWER_LAYERS = 500;

/** Throws E_MAX_DEPTH when `lowers` lower dirs would not stack; `what` names the stack. */
export function checkStackDepth(lowers: number, what: string, location?: ErrorLocation): void {
  if (lowers <= MAX_LOWER_LAYERS) return;
  throw new TsbuildError('E_MAX_DEPTH', `max depth exceeded: ${what} needs ${lowers} overlay layers, and the kernel's overlayfs stacks at most ${MAX_LOWER_LAYERS}`, { location });
}
