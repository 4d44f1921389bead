// The image a build stage has produced so far: its layers (with the
// unpacked dir of each, for the next step's overlay) and its OCI config,
// history included. Steps turn one state into the next without mutating it,
// so the cache can store and restore states whole.
import type { Store, ImageRecord } from '../../store/index.js';
import type { HistoryEntry, ImageConfig, Platform } from '../../image/oci.js';
import type { LayerBlob } from '../../image/layer-writer.js';
import { TsbuildError } from '../../errors.js';
import { readLazyBlob } from '../../store/lazy-blobs.js';
import { DEFAULT_PATH } from '../../run/process-spec.js';

export interface LayerRef {
  diffId: string;
  digest: string;
  size: number;
  mediaType: string;
  /** The unpacked layer (overlay lowerdir). */
  dir: string;
}

export interface ImageState {
  layers: LayerRef[];
  config: ImageConfig;
}

/** What a cache entry keeps of a state: everything but the local dirs. */
export interface StoredState {
  layers: Omit<LayerRef, 'dir'>[];
  config: ImageConfig;
}

/**
 * `FROM scratch`: no layers, and docker's default PATH in Env, which
 * BuildKit (dockerd 20.10) and buildah 1.28 both set for a scratch stage,
 * so a COPY-only image still has a PATH when something runs it. WorkingDir
 * is "/" as in BuildKit's emptyImage (dockerfile2llb); buildah 1.28 leaves
 * it empty: we follow BuildKit.
 */
export function scratchState(platform?: Platform): ImageState {
  const config = { Env: [`PATH=${DEFAULT_PATH}`], WorkingDir: '/' };
  const p = { architecture: platform?.architecture ?? 'amd64', os: platform?.os ?? 'linux', ...(platform?.variant ? { variant: platform.variant } : {}) };
  return { layers: [], config: { ...p, config, rootfs: { type: 'layers', diff_ids: [] }, history: [] } };
}

export function layerDirs(state: ImageState): string[] {
  return state.layers.map((l) => l.dir);
}

/** The state of an image from the store, its layers unpacked. */
export async function stateFromImage(store: Store, record: ImageRecord): Promise<ImageState> {
  const { manifest, config } = await store.readImage(record);
  if (manifest.layers.length !== config.rootfs.diff_ids.length) {
    throw new TsbuildError('E_CORRUPT_IMAGE', `image ${record.names[0] ?? record.id} has ${manifest.layers.length} layers but ${config.rootfs.diff_ids.length} diff_ids`);
  }
  const layers = await Promise.all(manifest.layers.map(async (d, i) => {
    const diffId = config.rootfs.diff_ids[i] as string;
    const dir = await store.ensureLayerUnpacked(diffId, d.digest, d.mediaType);
    return { diffId, digest: d.digest, size: d.size, mediaType: d.mediaType, dir };
  }));
  return { layers, config: { ...config, config: { ...(config.config ?? {}) }, history: [...(config.history ?? [])] } };
}

export function withHistory(state: ImageState, entry: HistoryEntry, configChange?: (c: NonNullable<ImageConfig['config']>) => void): ImageState {
  const inner = { ...(state.config.config ?? {}) };
  configChange?.(inner);
  return { layers: state.layers, config: { ...state.config, config: inner, history: [...(state.config.history ?? []), entry] } };
}

export function withLayer(state: ImageState, layer: Pick<LayerBlob, 'diffId' | 'digest' | 'size' | 'mediaType'>, dir: string, entry: HistoryEntry): ImageState {
  const ref: LayerRef = { diffId: layer.diffId, digest: layer.digest, size: layer.size, mediaType: layer.mediaType, dir };
  return {
    layers: [...state.layers, ref],
    config: {
      ...state.config,
      rootfs: { type: 'layers', diff_ids: [...state.config.rootfs.diff_ids, layer.diffId] },
      history: [...(state.config.history ?? []), entry],
    },
  };
}

export function toStored(state: ImageState): StoredState {
  return { layers: state.layers.map(({ dir: _dir, ...rest }) => rest), config: state.config };
}

/**
 * Restores a cached state if every layer is still in the store; undefined
 * otherwise. Layers it shares (bottom first) with `known`, the state the
 * step starts from, were checked when that state was made: only the step's
 * own layer is looked up, so a cached step costs the same at any depth.
 */
export async function fromStored(store: Store, s: StoredState, known?: ImageState): Promise<ImageState | undefined> {
  const layers: LayerRef[] = [];
  for (const [i, l] of s.layers.entries()) {
    const same = known?.layers[i];
    if (same?.diffId === l.diffId && same.digest === l.digest) {
      layers.push(same);
      continue;
    }
    const dir = await store.layerDir(l.diffId);
    if (dir && (await store.hasBlob(l.digest))) { layers.push({ ...l, dir }); continue; }
    // Recorded lazily by a cached build (store/lazy-blobs.ts): no dir until
    // something reads it (executor/lazy-layers.ts fetches it then).
    if (!readLazyBlob(store.root, l.digest)) return undefined;
    layers.push({ ...l, dir: '' });
  }
  return { layers, config: s.config };
}
