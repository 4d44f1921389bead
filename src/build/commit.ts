// Turning a container's read-write layer into a new image on top of its
// base image (`tsbuild commit`): one new layer from the upperdir (the init
// layer's files left out, whiteouts kept), the base's config with any
// `-c` changes applied, and a history entry. It lives in build/ because the
// `-c` changes are Containerfile instructions, parsed and applied by the same
// code as a build's (image/ importing build/ pointed up, issue 15).
import { TsbuildError } from '../errors.js';
import type { Store } from '../store/index.js';
import { INIT_FILES } from '../run/container-fs.js';
import type { ContainerState } from '../run/state.js';
import { writeLayer } from '../image/layer-writer.js';
import type { ImageConfig } from '../image/oci.js';
import { expandStage, parseStages } from './index.js';
import { applyConfigInstruction } from './instructions/config-steps.js';
import { writeImage } from './write-image.js';

export interface CommitOptions {
  /** Instructions such as `CMD ["/app"]` or `ENV A=b`, applied to the config. */
  changes: string[];
  message?: string;
  tags: string[];
}

/** Applies `-c` instructions (config instructions only) to a config, as docker commit --change does. */
export function applyChanges(config: ImageConfig, changes: readonly string[]): ImageConfig {
  if (changes.length === 0) return config;
  const cf = parseStages(`FROM scratch\n${changes.join('\n')}\n`, { file: '--change' });
  const stage = cf.stages[0];
  if (!stage) return config;
  const inner = { ...(config.config ?? {}) };
  const baseEnv = new Map((inner.Env ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as [string, string]));
  const steps = expandStage(stage, { file: '--change', escapeToken: cf.escapeToken, buildArgs: new Map(), globalScope: new Map(), baseEnv });
  const cmdState = { cmdFromBase: true };
  for (const step of steps) {
    if (!applyConfigInstruction(step.instruction, inner, step.env, cmdState)) {
      throw new TsbuildError('E_BAD_CHANGE', `--change ${step.instruction.source}: only config instructions (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR, …) can be applied`);
    }
  }
  return { ...config, config: inner };
}

export async function commitContainer(store: Store, c: ContainerState, upperDir: string, opts: CommitOptions): Promise<{ id: string; names: string[] }> {
  if (c.imageId.startsWith('dir:')) throw new TsbuildError('E_COMMIT_DIR_IMAGE', `container ${c.name} runs a plain directory (${c.imageName}), not an image: nothing to commit on top of`);
  return store.withLease(async () => {
    const base = await store.resolveImage(c.imageId);
    const { manifest: baseManifest, config: baseConfig } = await store.readImage(base);
    const layer = await writeLayer(store, upperDir, { exclude: new Set(INIT_FILES) });
    const created = new Date().toISOString();
    let config: ImageConfig = {
      ...baseConfig,
      created,
      rootfs: { type: 'layers', diff_ids: [...baseConfig.rootfs.diff_ids, ...(layer ? [layer.diffId] : [])] },
      history: [...(baseConfig.history ?? []), { created, created_by: 'tsbuild commit', ...(opts.message ? { comment: opts.message } : {}), ...(layer ? {} : { empty_layer: true }) }],
    };
    config = applyChanges(config, opts.changes);
    if (layer) await store.ensureLayerUnpacked(layer.diffId, layer.digest, layer.mediaType);
    const baseLayers = baseManifest.layers.map((l, i) => ({ ...l, diffId: baseConfig.rootfs.diff_ids[i] as string }));
    const { record } = await writeImage(store, config, [...baseLayers, ...(layer ? [layer] : [])], opts.tags);
    return { id: record.id, names: record.names };
  });
}
