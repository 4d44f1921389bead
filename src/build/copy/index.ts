// COPY and ADD for the build executor: two calls per step.
//
//   const key = await copySourceDigest(step);   // part of the step's cache key
//   await applyCopy(step, emptyLayerDir);        // on a cache miss
//
// Neither mounts anything or reads the target's whole rootfs: sources come
// from the context directory or a --from stage's layers (through a merged
// LayerView), and the destination is placed by looking up only its parents
// in the target stage's layers. The layer directory ends up in overlayfs
// form, ready to be stacked as a lowerdir or tarred.
export type { CopySource, CopyStep } from './types.js';
export { applyCopy } from './apply.js';
export { copySourceDigest, copySourceDigests, retimeKeyTime } from './digest.js';
export { destinationOf } from './dest.js';
export { IgnoreMatcher, loadIgnore } from '../context/ignore.js';
