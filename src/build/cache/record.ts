// tsbuild's cache record: what a registry or local cache holds.
//
// The cache is one OCI image manifest (not an index: several registries
// reject indexes whose entries are not images, which is why BuildKit moved
// to this form, buildkit#2251). Its config blob is this record, under its
// own media type; its layers are the step layers the record names.
//
// Trust model. A record is input from whoever can write the cache ref, so:
// - an entry maps one step cache key to the layer that step made (blob
//   digest, diffID, size, media type) and its history line; nothing else.
//   The config a step leaves (env, user, entrypoint…) is recomputed here
//   from the Containerfile, never read from the record;
// - an entry may also carry its retime key and epoch (executor/retime.ts):
//   a build under another epoch retimes that layer instead of running the
//   step. That key chains like the step key (without the epoch), so it too
//   names one exact step;
// - keys are sha256 over the parent step's key and the step itself, so an
//   entry satisfies only the exact step (same parent chain, same
//   instruction, same COPY content) it names: a record cannot graft a
//   layer under an unrelated step or reorder the parent's layers;
// - every layer must be one of the manifest's layers; its blob is verified
//   against the digest on download and its tar against the diffID on
//   unpack, so what is unpacked is exactly what the entry names;
// - a COPY --from=STAGE entry may also sit under its chain key, with the
//   content key it stands for: that key too chains on the exact source
//   stage's key, so it names one step; the writer of the ref chose its
//   layer already, so naming its content key trusts it with nothing more;
// - parsing is strict: a malformed record is rejected whole (one warning),
//   never partly used.
// What it cannot stop: the writer of a cache ref chose what layer a step
// produced. Only point --cache-from at refs your builds write.
import { TsbuildError } from '../../errors.js';
import { MediaType, type Descriptor, type HistoryEntry, type ImageManifest } from '../../image/oci.js';

export const CACHE_CONFIG_MEDIA_TYPE = 'application/vnd.tsbuild.cache.config.v1+json';
/** Registries cap manifests at 4 MiB; the record is capped alike. */
export const MAX_RECORD_BYTES = 4 * 1024 * 1024;

export interface CacheLayer {
  digest: string;
  diffId: string;
  size: number;
  mediaType: string;
}

export interface CacheEntry {
  /** The step's cache key (64 hex). */
  key: string;
  /** The layer the step made; absent for a step that changed nothing. */
  layer?: CacheLayer;
  history: HistoryEntry;
  /** The step's retime key and the SOURCE_DATE_EPOCH the layer was made under (executor/retime.ts). */
  retime?: { key: string; epoch: number };
  /**
   * Set on a COPY --from=STAGE's chain-key entry: `key` is the step chained
   * on the source stage's key (not its files), and this is the step's key by
   * content, which the next steps chain on. It lets a build that has the
   * source stage only as lazy cache hits skip downloading it (BuildKit's
   * definition-based cache key before its content-based one).
   */
  contentKey?: string;
}

export interface CacheRecord {
  tsbuildCache: 1;
  entries: CacheEntry[];
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const KEY = /^[0-9a-f]{64}$/;
const LAYER_TYPES = new Set<string>([MediaType.ociLayer, MediaType.ociLayerGzip, MediaType.ociLayerZstd, MediaType.dockerLayerGzip]);

function bad(what: string, why: string): TsbuildError {
  return new TsbuildError('E_BAD_CACHE', `${what}: ${why}`);
}

/** The manifest and record bytes for `entries` (layers deduplicated, in first-use order). */
export function buildRecord(entries: readonly CacheEntry[]): { record: Buffer; layers: Descriptor[] } {
  const seen = new Map<string, Descriptor>();
  for (const e of entries) if (e.layer && !seen.has(e.layer.digest)) seen.set(e.layer.digest, { mediaType: e.layer.mediaType, digest: e.layer.digest, size: e.layer.size });
  const record: CacheRecord = { tsbuildCache: 1, entries: [...entries] };
  return { record: Buffer.from(JSON.stringify(record)), layers: [...seen.values()] };
}

export function cacheManifest(config: Descriptor, layers: Descriptor[]): Buffer {
  const m: ImageManifest = { schemaVersion: 2, mediaType: MediaType.ociManifest, config, layers };
  return Buffer.from(JSON.stringify(m));
}

function isDescriptor(d: unknown): d is Descriptor {
  const x = d as Descriptor | null;
  return !!x && typeof x === 'object' && typeof x.digest === 'string' && DIGEST.test(x.digest)
    && Number.isSafeInteger(x.size) && x.size >= 0 && typeof x.mediaType === 'string';
}

/** Parses a cache manifest; throws E_BAD_CACHE unless it is one of ours. */
export function parseCacheManifest(bytes: Buffer, what: string): ImageManifest {
  let m: ImageManifest;
  try { m = JSON.parse(bytes.toString('utf8')) as ImageManifest; } catch { throw bad(what, 'the cache manifest is not JSON'); }
  if (!m || typeof m !== 'object' || m.schemaVersion !== 2 || !isDescriptor(m.config) || !Array.isArray(m.layers) || !m.layers.every(isDescriptor)) {
    throw bad(what, 'not an image manifest');
  }
  if (m.config.mediaType !== CACHE_CONFIG_MEDIA_TYPE) throw bad(what, `not a tsbuild cache (config media type ${m.config.mediaType})`);
  if (m.config.size > MAX_RECORD_BYTES) throw bad(what, 'the cache record is too large');
  return m;
}

function str(v: unknown): v is string { return typeof v === 'string' && v.length < 64 * 1024; }

/** Parses and checks a record against its manifest's layers; throws E_BAD_CACHE on anything off. */
export function parseRecord(bytes: Buffer, manifest: ImageManifest, what: string): CacheEntry[] {
  let r: CacheRecord;
  try { r = JSON.parse(bytes.toString('utf8')) as CacheRecord; } catch { throw bad(what, 'the cache record is not JSON'); }
  if (!r || r.tsbuildCache !== 1 || !Array.isArray(r.entries)) throw bad(what, 'unknown cache record version');
  const layers = new Map(manifest.layers.map((d) => [d.digest, d]));
  return r.entries.map((e, i) => {
    const at = `${what}: entry ${i}`;
    if (!e || typeof e !== 'object' || !str(e.key) || !KEY.test(e.key)) throw bad(at, 'bad key');
    const h = e.history as HistoryEntry | undefined;
    if (!h || typeof h !== 'object' || (h.created !== undefined && !str(h.created)) || (h.created_by !== undefined && !str(h.created_by)) || (h.comment !== undefined && !str(h.comment))) {
      throw bad(at, 'bad history');
    }
    // Only these fields: empty_layer follows from the layer, author from MAINTAINER.
    const history: HistoryEntry = { ...(h.created !== undefined ? { created: h.created } : {}), ...(h.created_by !== undefined ? { created_by: h.created_by } : {}), ...(h.comment !== undefined ? { comment: h.comment } : {}) };
    const rt = e.retime as { key?: unknown; epoch?: unknown } | undefined;
    if (rt !== undefined && (!rt || typeof rt !== 'object' || !str(rt.key) || !KEY.test(rt.key) || !Number.isSafeInteger(rt.epoch) || (rt.epoch as number) < 0)) throw bad(at, 'bad retime key');
    const retime = rt ? { retime: { key: rt.key as string, epoch: rt.epoch as number } } : {};
    if (e.contentKey !== undefined && (!str(e.contentKey) || !KEY.test(e.contentKey))) throw bad(at, 'bad content key');
    if (e.contentKey !== undefined) Object.assign(retime, { contentKey: e.contentKey });
    if (e.layer === undefined) return { key: e.key, history, ...retime };
    const l = e.layer;
    if (!l || !str(l.digest) || !DIGEST.test(l.digest) || !str(l.diffId) || !DIGEST.test(l.diffId) || !LAYER_TYPES.has(l.mediaType)) throw bad(at, 'bad layer');
    const d = layers.get(l.digest);
    if (!d || d.size !== l.size || d.mediaType !== l.mediaType) throw bad(at, `layer ${l.digest} is not a layer of the cache manifest`);
    return { key: e.key, layer: { digest: l.digest, diffId: l.diffId, size: l.size, mediaType: l.mediaType }, history, ...retime };
  });
}
