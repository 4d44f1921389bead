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
    // One read feeds both the blob writer (digest-checked) and the unpack:
    // store.openBlob here would wait on the very unpack that asked.
    async function* tee(): AsyncGenerator<Buffer> {
      for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
        if (sink) await sink.write(chunk as Buffer);
        yield chunk as Buffer;
      }
    }
    await store.putBlob(tee(), { digest: b.digest, size: b.size });
    return;
  }
  const { host, repository } = b.source;
  const client = acquire(host, b.source.insecure === true);
  try {
    await fetchBlob(store, { client: client.client, repository, name: `${host}/${repository}` }, desc, { progress: silentProgress, ...(sink ? { sink } : {}) });
  } finally {
    client.release();
  }
}

/** One client per registry while its fetches run (`run` fetches an image's lazy layers at once): one ping and token. */
const clients = new Map<string, { client: RegistryClient; users: number }>();

function acquire(host: string, insecure: boolean): { client: RegistryClient; release: () => void } {
  const key = `${host}\0${insecure}`;
  let c = clients.get(key);
  if (!c) {
    // Few retries: a source that is gone should cost seconds, not a minute.
    c = { client: new RegistryClient(host, { retries: 2, ...(insecure ? { tlsVerify: false } : {}) }), users: 0 };
    clients.set(key, c);
  }
  const held = c;
  held.users++;
  return {
    client: held.client,
    release: () => {
      if (--held.users > 0) return;
      clients.delete(key);
      held.client.close();
    },
  };
}
