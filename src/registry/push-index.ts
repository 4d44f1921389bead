// Pushing an image index from the store: each platform image first (blobs,
// then its manifest by digest, through push.ts), the index last under the
// tag, so the registry never holds an index naming a missing manifest. The
// index goes up byte for byte as stored unless a platform image went up
// under another digest (built layers pushed as gzip blobs): then it names
// the pushed manifests.
import { TsbuildError } from '../errors.js';
import type { ImageIndex } from '../image/oci.js';
import type { Store } from '../store/index.js';
import { RegistryClient } from './http.js';
import { sha256Digest } from '../image/manifest.js';
import { push, type PushOptions } from './push.js';
import { parseReference, type ImageReference } from '../reference/index.js';

export interface PushIndexResult {
  reference: ImageReference;
  digest: string;
  size: number;
}

export async function pushIndex(store: Store, json: string, mediaType: string, destination: string, opts: PushOptions = {}): Promise<PushIndexResult> {
  const dest = parseReference(destination);
  const stored = Buffer.from(json);
  const index = JSON.parse(json) as ImageIndex;
  const client = opts.client ?? new RegistryClient(dest.registry, opts);
  try {
    const images = await store.listImages();
    let changed = false;
    const manifests = [];
    for (const d of index.manifests) {
      const record = images.find((r) => r.manifestDigest === d.digest);
      if (!record) throw new TsbuildError('E_IMAGE_NOT_FOUND', `image ${d.digest} of the index is not in the store; build or pull it again`);
      // A built platform image goes up with gzip layers, so under another digest: the index names that one.
      const pushed = await push(store, record.id, `${dest.name}@${d.digest}`, { ...opts, client });
      changed ||= pushed.digest !== d.digest;
      manifests.push(pushed.digest === d.digest ? d : { ...d, digest: pushed.digest, size: pushed.size });
    }
    const bytes = changed ? Buffer.from(JSON.stringify({ ...index, manifests })) : stored;
    const digest = sha256Digest(bytes);
    if (dest.digest && dest.digest !== digest && dest.digest !== sha256Digest(stored)) throw new TsbuildError('E_DIGEST_MISMATCH', `cannot push the index as ${dest.toString()}: its digest is ${digest}`);
    const res = await client.request({
      method: 'PUT', path: `/v2/${dest.repository}/manifests/${dest.digest ? digest : dest.tag ?? 'latest'}`, repository: dest.repository, actions: ['pull', 'push'],
      headers: { 'Content-Type': mediaType, 'Content-Length': String(bytes.length) }, body: bytes, expect: [201],
      what: `index ${dest.toString()}`,
    });
    await res.arrayBuffer();
    const echoed = res.headers.get('docker-content-digest');
    if (echoed && echoed !== digest) throw new TsbuildError('E_DIGEST_MISMATCH', `registry ${dest.registry} stored index ${dest.toString()} as ${echoed}, expected ${digest}`);
    return { reference: dest, digest, size: bytes.length };
  } finally {
    if (!opts.client) client.close();
  }
}
