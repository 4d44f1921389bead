// The shared build cache's pure parts: --cache-from/--cache-to specs in
// buildx and buildah spelling, what mode=min/max select, and the record
// parser's refusals (the trust boundary: a record names key → layer and
// history, checked against its manifest, and nothing else gets through).
import { describe, expect, it } from 'vitest';
import { parseCacheFrom, parseCacheTo, withDefaultTag } from '../../../../src/build/cache/spec.js';
import { CACHE_CONFIG_MEDIA_TYPE, buildRecord, cacheManifest, parseCacheManifest, parseRecord } from '../../../../src/build/cache/record.js';
import { selectSteps, type UsedStep } from '../../../../src/build/cache/export.js';
import { sha256Digest } from '../../../../src/image/manifest.js';

const K1 = 'a'.repeat(64);
const K2 = 'b'.repeat(64);
const L = { digest: `sha256:${'1'.repeat(64)}`, diffId: `sha256:${'2'.repeat(64)}`, size: 10, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' };

describe('cache specs', () => {
  it('reads buildx registry and local forms', () => {
    expect(parseCacheFrom('type=registry,ref=r.io/a/cache:main')).toEqual({ type: 'registry', ref: 'r.io/a/cache:main' });
    expect(parseCacheFrom('ref=r.io/a/cache')).toEqual({ type: 'registry', ref: 'r.io/a/cache:buildcache' });
    expect(parseCacheFrom('type=local,src=/c')).toEqual({ type: 'local', dir: '/c', tag: 'latest' });
    expect(parseCacheTo('type=registry,ref=r.io/a:c,mode=max,ignore-error=true')).toEqual({ location: { type: 'registry', ref: 'r.io/a:c' }, mode: 'max', ignoreError: true });
    expect(parseCacheTo('type=local,dest=/c,tag=t')).toEqual({ location: { type: 'local', dir: '/c', tag: 't' }, mode: 'min', ignoreError: false });
  });

  it('reads buildah\'s bare repository form (export: every step)', () => {
    expect(parseCacheFrom('localhost:5000/app/cache')).toEqual({ type: 'registry', ref: 'localhost:5000/app/cache:buildcache' });
    expect(parseCacheTo('localhost:5000/app/cache')).toEqual({ location: { type: 'registry', ref: 'localhost:5000/app/cache:buildcache' }, mode: 'max', ignoreError: false });
    expect(withDefaultTag('host:5000/a')).toBe('host:5000/a:buildcache');
    expect(withDefaultTag('host:5000/a:t')).toBe('host:5000/a:t');
  });

  it('refuses what it cannot do, as usage errors', () => {
    for (const bad of ['type=gha', 'type=registry', 'type=local,dest=/x', 'type=registry,ref=a,mode=max', '']) {
      expect(() => parseCacheFrom(bad), bad).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
    }
    for (const bad of ['type=registry,ref=a,bogus=1', 'type=registry,ref=a,mode=all', 'type=registry,ref=a,ignore-error=maybe', 'type=registry,ref=a,image-manifest=false', '']) {
      expect(() => parseCacheTo(bad), bad).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
    }
    expect(() => parseCacheTo('type=local,src=/x')).toThrow(/unknown key "src"/);
    expect(() => parseCacheTo('type=local')).toThrow(/dest=DIR/);
  });
});

describe('mode=min and mode=max', () => {
  const steps: UsedStep[] = [
    { stage: 0, key: K1, layer: L, history: { created_by: 'RUN a' } },
    { stage: 1, key: K2, history: { created_by: 'RUN b' } },
    { stage: 1, key: K2, history: { created_by: 'RUN b' } },
  ];
  it('min takes the target stage, max every stage, each key once', () => {
    expect(selectSteps(steps, 'min', 1).map((e) => e.key)).toEqual([K2]);
    expect(selectSteps(steps, 'max', 1).map((e) => e.key)).toEqual([K1, K2]);
  });
});

describe('cache records', () => {
  const { record, layers } = buildRecord([{ key: K1, layer: L, history: { created: '2020-01-01T00:00:00Z', created_by: 'RUN a' } }, { key: K2, history: { created_by: 'RUN b' } }]);
  const config = { mediaType: CACHE_CONFIG_MEDIA_TYPE, digest: sha256Digest(record), size: record.length };
  const manifest = parseCacheManifest(cacheManifest(config, layers), 'c');

  it('round-trips', () => {
    expect(manifest.layers).toEqual([{ mediaType: L.mediaType, digest: L.digest, size: L.size }]);
    expect(parseRecord(record, manifest, 'c')).toEqual([
      { key: K1, layer: L, history: { created: '2020-01-01T00:00:00Z', created_by: 'RUN a' } },
      { key: K2, history: { created_by: 'RUN b' } },
    ]);
  });

  it('refuses a manifest that is not a tsbuild cache', () => {
    const image = cacheManifest({ ...config, mediaType: 'application/vnd.oci.image.config.v1+json' }, layers);
    expect(() => parseCacheManifest(image, 'c')).toThrow(/not a tsbuild cache/);
    expect(() => parseCacheManifest(Buffer.from('{'), 'c')).toThrow(expect.objectContaining({ code: 'E_BAD_CACHE' }));
    expect(() => parseCacheManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, config, layers: [{ digest: 'md5:x', size: 1, mediaType: 'x' }] })), 'c')).toThrow(/not an image manifest/);
  });

  const withEntries = (entries: unknown[]) => Buffer.from(JSON.stringify({ tsbuildCache: 1, entries }));

  it('refuses an entry naming a layer the manifest does not carry, or a bad key, digest or history', () => {
    const other = { ...L, digest: `sha256:${'3'.repeat(64)}` };
    expect(() => parseRecord(withEntries([{ key: K1, layer: other, history: {} }]), manifest, 'c')).toThrow(/not a layer of the cache manifest/);
    expect(() => parseRecord(withEntries([{ key: K1, layer: { ...L, size: 11 }, history: {} }]), manifest, 'c')).toThrow(/not a layer/);
    expect(() => parseRecord(withEntries([{ key: '../x', history: {} }]), manifest, 'c')).toThrow(/bad key/);
    expect(() => parseRecord(withEntries([{ key: K1, layer: { ...L, diffId: 'sha256:zz' }, history: {} }]), manifest, 'c')).toThrow(/bad layer/);
    expect(() => parseRecord(withEntries([{ key: K1, history: { created_by: 7 } }]), manifest, 'c')).toThrow(/bad history/);
    // A COPY --from chain-key entry names a content key, which must be a key too.
    expect(parseRecord(withEntries([{ key: K1, contentKey: K2, history: {} }]), manifest, 'c')).toEqual([{ key: K1, contentKey: K2, history: {} }]);
    expect(() => parseRecord(withEntries([{ key: K1, contentKey: '../x', history: {} }]), manifest, 'c')).toThrow(/bad content key/);
    expect(() => parseRecord(Buffer.from('{"tsbuildCache":2,"entries":[]}'), manifest, 'c')).toThrow(/version/);
  });

  it('carries an entry\'s retime key and epoch, and refuses a malformed one', () => {
    const retime = { key: K2, epoch: 1_650_000_000 };
    expect(parseRecord(withEntries([{ key: K1, layer: L, history: {}, retime }]), manifest, 'c')).toEqual([{ key: K1, layer: L, history: {}, retime }]);
    expect(selectSteps([{ stage: 0, key: K1, history: {}, retime }], 'max', 0)).toEqual([{ key: K1, history: {}, retime }]);
    for (const bad of [{ key: '../x', epoch: 1 }, { key: K2, epoch: -1 }, { key: K2, epoch: 1.5 }, { key: K2 }, 'x', null]) {
      expect(() => parseRecord(withEntries([{ key: K1, history: {}, retime: bad }]), manifest, 'c'), JSON.stringify(bad)).toThrow(/bad retime key/);
    }
  });

  it('keeps only the history fields it trusts', () => {
    const [e] = parseRecord(withEntries([{ key: K2, history: { created_by: 'x', empty_layer: false, author: 'mallory' }, config: { Env: ['PATH=/evil'] } }]), manifest, 'c');
    expect(e).toEqual({ key: K2, history: { created_by: 'x' } });
  });
});
