// One LayerView per image layer stack, kept for the life of the process.
//
// Why: looking a name up in a stack probes layer after layer until one has
// it, so on a deep image every lookup (/etc/passwd for the user, /proc,
// /sys and /dev before mounting, a WORKDIR, a COPY destination) cost one
// lstat per layer, and a build paid that on every step: O(depth) per step.
// A build's next step stacks one new layer on the previous step's stack, so
// its view is made `over` the cached one and probes only its new layer.
// Image layers never change once they are in the store, so what a cached
// view has learnt stays true. A container's own layers (init, rw) do
// change: they are stacked afresh on every call, never cached.
import { LayerView } from './layer-view.js';

/** Stacks kept: a build's current stack per stage in flight, and a few more. */
const MAX_VIEWS = 32;
const views = new Map<string, LayerView>();

function keyOf(layerDirs: readonly string[], n: number): string {
  return layerDirs.slice(0, n).join('\0');
}

function remember(key: string, view: LayerView): LayerView {
  views.delete(key);
  views.set(key, view);
  if (views.size > MAX_VIEWS) views.delete(views.keys().next().value as string);
  return view;
}

/** The view of immutable image layers `layerDirs` (bottom first), with `own` mutable layers on top. */
export function stackView(layerDirs: readonly string[], own: readonly string[] = []): LayerView {
  const key = keyOf(layerDirs, layerDirs.length);
  let view = views.get(key);
  if (!view) {
    const below = layerDirs.length > 1 ? views.get(keyOf(layerDirs, layerDirs.length - 1)) : undefined;
    view = below ? LayerView.over(below, layerDirs[layerDirs.length - 1] as string) : new LayerView(layerDirs);
  }
  remember(key, view);
  for (const dir of own) view = LayerView.over(view, dir);
  return view;
}
