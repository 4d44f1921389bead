// The fetcher behind the store's lazy layer records (store/lazy-blobs.ts):
// a layer a fully cached build recorded without its bytes is downloaded
// from the cache's registry repository, or copied from its local OCI
// layout, the first time something reads it. Digest checked by the blob
// writer, diffID by the unpack, as for any pull.
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import type { ByteSink, Store } from '../store/index.js';
import type { LazyBlob } from '../store/lazy-blobs.js';
import { RegistryClient } from './http.js';
import { fetchBlob } from './partial-blob.js';
import { silentProgress } from './progress.js';

export async function fetchLazy(store: Store, b: LazyBlob, sink?: ByteSink): Promise<void> {
  const desc = { mediaType: b.mediaType, digest: b.digest, size: b.size };
  if (b.source.kind === 'local') {
    const path = join(b.source.dir, 'blobs', 'sha256', b.digest.slice('sha256:'.length));
    await store.putBlob(createReadStream(path), { digest: b.digest, size: b.size });
    if (sink) for await (const chunk of await store.openBlob(b.digest, b.size)) await sink.write(chunk as Buffer);
    return;
  }
  const { host, repository } = b.source;
  // Few retries: a source that is gone should cost seconds, not a minute.
  const client = new RegistryClient(host, { retries: 2, ...(b.source.insecure ? { tlsVerify: false } : {}) });
  try {
    await fetchBlob(store, { client, repository, name: `${host}/${repository}` }, desc, { progress: silentProgress, ...(sink ? { sink } : {}) });
  } finally {
    client.close();
  }
}
