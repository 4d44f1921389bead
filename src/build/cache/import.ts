// --cache-from: reading cache records from registries and local OCI
// layouts, and fetching the layer of an entry a build step hits.
//
// Owns: the "import never fails the build" rule — a ref that is missing,
// unauthorized, unreachable, answers 500 or holds a corrupt record is one
// warning and is left out — and "first ref wins per step" (entries of later
// refs never replace an earlier ref's entry for the same key). Layers are
// fetched only when a step hits and something reads its files
// (executor/lazy-layers.ts), verified by digest (download) and diffID
// (unpack); see record.ts for what a record is trusted with.
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { TsbuildError } from '../../errors.js';
import { MediaType, type Descriptor } from '../../image/oci.js';
import type { Store } from '../../store/index.js';
import type { Logger } from '../../log.js';
import type { Progress as TransferProgress } from '../../registry/progress.js';
import { sha256Digest } from '../../image/manifest.js';
import type { RegistryClient } from '../../registry/http.js';
import { describeLocation, type CacheLocation } from './spec.js';
import { MAX_RECORD_BYTES, parseCacheManifest, parseRecord, type CacheEntry, type CacheLayer } from './record.js';

/** Where an imported entry's layer comes from. */
export interface LayerOrigin {
  /** The cache ref as the user gave it (progress, metadata). */
  readonly name: string;
  /** Registry and repository, when the cache is in a registry (a push there can mount from it). */
  readonly registry?: { host: string; repository: string };
  /** The OCI layout dir, when the cache is a local one (a lazy layer record names it). */
  readonly layoutDir?: string;
  /** Puts the layer's blob in the store and unpacks it; returns its dir. */
  fetchLayer(store: Store, layer: CacheLayer, progress: TransferProgress): Promise<string>;
  close(): void;
}

export interface ImportedEntry extends CacheEntry {
  from: LayerOrigin;
}

export interface ImportOptions {
  store: Store;
  log: Logger;
  tlsVerify?: boolean;
  /** Progress of the layer downloads of one cache ref. */
  progress?: (name: string) => TransferProgress;
}

/** Layers fetched at once (as a pull does). */
const FETCH_CONCURRENCY = 4;

export class CacheImports {
  private readonly limit = pLimit(FETCH_CONCURRENCY);
  private readonly entries = new Map<string, ImportedEntry>();
  /** By retime key (executor/retime.ts): the same entries, for a build under another epoch. */
  private readonly retimeEntries = new Map<string, ImportedEntry>();
  private readonly found: LayerOrigin[] = [];
  private readonly loaded: Promise<void>;
  /** Layer fetches by diffID: each layer is fetched once, whoever asks first. */
  private readonly fetches = new Map<string, Promise<string>>();

  private constructor(locations: readonly CacheLocation[], private readonly opts?: ImportOptions) {
    this.loaded = opts ? this.load(locations, opts) : Promise.resolve();
  }

  static empty(): CacheImports {
    return new CacheImports([]);
  }

  /**
   * Starts reading every ref, in parallel and in the background (the build
   * resolves its base images meanwhile); lookups wait for the reads. A ref
   * that fails is one warning.
   */
  static start(locations: readonly CacheLocation[], opts: ImportOptions): CacheImports {
    return new CacheImports(locations, opts);
  }

  private async load(locations: readonly CacheLocation[], opts: ImportOptions): Promise<void> {
    const loaded = await Promise.all(locations.map(async (loc) => {
      try {
        return loc.type === 'registry' ? await loadRegistry(loc.ref, opts) : await loadLocal(loc.dir, loc.tag);
      } catch (err) {
        const why = err instanceof TsbuildError ? err.message : (err as Error).message;
        opts.log.warn(`cache ${describeLocation(loc)} not used: ${why.split('\n')[0]}`);
        return undefined;
      }
    }));
    for (const l of loaded) {
      if (!l) continue;
      this.found.push(l.origin);
      for (const e of l.entries) {
        if (!this.entries.has(e.key)) this.entries.set(e.key, { ...e, from: l.origin });
        if (e.retime && !this.retimeEntries.has(e.retime.key)) this.retimeEntries.set(e.retime.key, { ...e, from: l.origin });
      }
    }
    // Nothing is fetched here: a hit's layer stays lazy until something
    // reads its files (executor/lazy-layers.ts).
  }

  private fetch(store: Store, entry: ImportedEntry, progress: TransferProgress): Promise<string> {
    const layer = entry.layer as CacheLayer;
    let p = this.fetches.get(layer.diffId);
    if (!p) {
      p = this.limit(() => entry.from.fetchLayer(store, layer, progress));
      p.catch(() => {}); // observed by whoever asks for the layer
      this.fetches.set(layer.diffId, p);
    }
    return p;
  }

  /** The entry for a step key, from the first ref that has it. */
  async get(key: string): Promise<ImportedEntry | undefined> {
    await this.loaded;
    return this.entries.get(key);
  }

  /** The entry for a retime key, from the first ref that has it. */
  async getRetime(key: string): Promise<ImportedEntry | undefined> {
    await this.loaded;
    return this.retimeEntries.get(key);
  }

  /** The refs that were read. */
  async origins(): Promise<LayerOrigin[]> {
    await this.loaded;
    return this.found;
  }

  /** Forget an entry (its layer failed to arrive or to verify): the step runs instead. */
  drop(key: string): void {
    this.entries.delete(key);
    for (const [k, e] of this.retimeEntries) if (e.key === key) this.retimeEntries.delete(k);
  }

  /** The entry's layer in the store, unpacked (its dir); at most FETCH_CONCURRENCY at once. */
  fetchLayer(store: Store, entry: ImportedEntry, progress: TransferProgress): Promise<string> {
    const layer = entry.layer;
    if (!layer) return Promise.reject(new Error('the entry has no layer'));
    return this.fetch(store, entry, progress);
  }

  /** Waits for every fetch started (nothing writes into the store after the build), then closes the clients. */
  async close(): Promise<void> {
    await this.loaded;
    await Promise.allSettled(this.fetches.values());
    for (const o of this.found) o.close();
  }
}

function checkedBlob(bytes: Buffer, desc: Descriptor, what: string): Buffer {
  if (bytes.length !== desc.size || sha256Digest(bytes) !== desc.digest) throw new TsbuildError('E_BAD_CACHE', `${what}: the cache record does not match its digest`);
  return bytes;
}

async function loadRegistry(refText: string, opts: ImportOptions): Promise<{ origin: LayerOrigin; entries: CacheEntry[] }> {
  const { parseReference } = await import('../../reference/index.js');
  const { RegistryClient } = await import('../../registry/http.js');
  const ref = parseReference(refText);
  // Fewer retries than a pull: a cache that is down should cost seconds, not a minute.
  const client: RegistryClient = new RegistryClient(ref.registry, { log: opts.log, retries: 2, ...(opts.tlsVerify === false ? { tlsVerify: false } : {}) });
  try {
    const what = `cache ${ref.toString()}`;
    const res = await client.request({ path: `/v2/${ref.repository}/manifests/${ref.manifestRef()}`, repository: ref.repository, headers: { Accept: MediaType.ociManifest }, what });
    const bytes = Buffer.from(await res.arrayBuffer());
    if (bytes.length > MAX_RECORD_BYTES) throw new TsbuildError('E_BAD_CACHE', `${what}: the cache manifest is too large`);
    if (ref.digest && sha256Digest(bytes) !== ref.digest) throw new TsbuildError('E_BAD_CACHE', `${what}: manifest digest mismatch`);
    const manifest = parseCacheManifest(bytes, what);
    const cfg = await client.request({ path: `/v2/${ref.repository}/blobs/${manifest.config.digest}`, repository: ref.repository, what: `cache record of ${ref.toString()}` });
    const record = checkedBlob(Buffer.from(await cfg.arrayBuffer()), manifest.config, what);
    const entries = parseRecord(record, manifest, what);
    const { fetchBlob } = await import('../../registry/partial-blob.js');
    const src = { client, repository: ref.repository, name: ref.name };
    const origin: LayerOrigin = {
      name: refText,
      registry: { host: ref.registry, repository: ref.repository },
      async fetchLayer(store, layer, progress) {
        const desc: Descriptor = { mediaType: layer.mediaType, digest: layer.digest, size: layer.size };
        let fetched = false;
        const dir = await store.ensureLayerUnpacked(layer.diffId, layer.digest, layer.mediaType, {
          fetch: (sink) => { fetched = true; return fetchBlob(store, src, desc, { progress, sink }); },
        });
        // Unpacked before but its blob gone: fetch the blob an export or push will read.
        if (!fetched && !(await store.hasBlob(layer.digest))) await fetchBlob(store, src, desc, { progress });
        return dir;
      },
      close: () => client.close(),
    };
    return { origin, entries };
  } catch (err) {
    client.close();
    throw err;
  }
}

/** An OCI image layout (BuildKit's type=local): index.json names the manifest by ref.name annotation. */
async function loadLocal(dir: string, tag: string): Promise<{ origin: LayerOrigin; entries: CacheEntry[] }> {
  const what = `cache local:${dir}`;
  const blobPath = (digest: string) => join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length));
  let index: { manifests?: Descriptor[] };
  try {
    index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests?: Descriptor[] };
  } catch (err) {
    throw new TsbuildError('E_BAD_CACHE', `${what}: cannot read index.json (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const desc = (index.manifests ?? []).find((m) => m?.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!desc || typeof desc.digest !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(desc.digest)) throw new TsbuildError('E_BAD_CACHE', `${what}: no cache tagged ${tag}`);
  const read = async (d: Descriptor): Promise<Buffer> => {
    if (d.size > MAX_RECORD_BYTES) throw new TsbuildError('E_BAD_CACHE', `${what}: blob ${d.digest} is too large`);
    try { return checkedBlob(await readFile(blobPath(d.digest)), d, what); } catch (err) {
      if (err instanceof TsbuildError) throw err;
      throw new TsbuildError('E_BAD_CACHE', `${what}: cannot read blob ${d.digest}`);
    }
  };
  const manifest = parseCacheManifest(await read(desc), what);
  const entries = parseRecord(await read(manifest.config), manifest, what);
  const origin: LayerOrigin = {
    name: `local:${dir}`,
    layoutDir: dir,
    async fetchLayer(store, layer) {
      // putBlob verifies the digest and size; unpacking verifies the diffID.
      if (!(await store.hasBlob(layer.digest))) await store.putBlob(createReadStream(blobPath(layer.digest)), { digest: layer.digest, size: layer.size });
      return store.ensureLayerUnpacked(layer.diffId, layer.digest, layer.mediaType);
    },
    close() {},
  };
  return { origin, entries };
}
