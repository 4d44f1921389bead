// Manifest classification and platform selection.
import { describe, expect, it } from 'vitest';
import { parseManifest, parsePlatform, selectPlatform } from '../../../src/image/manifest.js';
import { MediaType, type ImageIndex } from '../../../src/image/oci.js';

const d = (c: string): string => `sha256:${c.repeat(64)}`;
const enc = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
const image = {
  schemaVersion: 2,
  mediaType: MediaType.ociManifest,
  config: { mediaType: MediaType.ociConfig, digest: d('1'), size: 10 },
  layers: [{ mediaType: MediaType.ociLayerGzip, digest: d('2'), size: 20 }],
};

function index(entries: Array<[string, string, string?, Record<string, string>?]>): ImageIndex {
  return {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: entries.map(([os, architecture, variant, annotations], i) => ({
      mediaType: MediaType.ociManifest, digest: d(String(i + 3)), size: 1,
      platform: variant ? { os, architecture, variant } : { os, architecture },
      ...(annotations ? { annotations } : {}),
    })),
  };
}

describe('parseManifest', () => {
  it('classifies by the body media type, then header, then shape', () => {
    expect(parseManifest(enc(image), 'application/json', 'x').kind).toBe('image');
    const { mediaType: _m, ...bare } = image;
    expect(parseManifest(enc(bare), MediaType.dockerManifest, 'x').mediaType).toBe(MediaType.dockerManifest);
    expect(parseManifest(enc(bare), null, 'x').mediaType).toBe(MediaType.ociManifest);
    expect(parseManifest(enc({ schemaVersion: 2, manifests: [] }), null, 'x').kind).toBe('index');
    expect(parseManifest(enc({ schemaVersion: 2, mediaType: MediaType.dockerManifestList, manifests: [] }), null, 'x').mediaType).toBe(MediaType.dockerManifestList);
  });

  it('rejects schema1 clearly', () => {
    expect(() => parseManifest(enc({ schemaVersion: 1, name: 'a', fsLayers: [] }), 'application/vnd.docker.distribution.manifest.v1+prettyjws', 'reg/a:1'))
      .toThrow(/reg\/a:1: Docker schema1 manifests are not supported/);
    expect(() => parseManifest(enc({ schemaVersion: 1 }), null, 'x')).toThrow(expect.objectContaining({ code: 'E_UNSUPPORTED_MANIFEST' }));
  });

  it('rejects artifacts, bad digests, bad sizes and bad JSON', () => {
    expect(() => parseManifest(enc({ ...image, config: { ...image.config, mediaType: 'application/vnd.cncf.helm.config.v1+json' } }), null, 'x')).toThrow(/not a container image/);
    expect(() => parseManifest(enc({ ...image, layers: [{ mediaType: 'x', digest: 'sha512:ab', size: 1 }] }), null, 'x')).toThrow(/not a sha256 digest/);
    expect(() => parseManifest(enc({ ...image, layers: [{ mediaType: 'x', digest: d('a'), size: -1 }] }), null, 'x')).toThrow(/invalid size/);
    expect(() => parseManifest(Buffer.from('{'), null, 'x')).toThrow(/not valid JSON/);
  });
});

describe('platforms', () => {
  it('parses --platform', () => {
    expect(parsePlatform('linux/amd64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(parsePlatform('linux/arm/v6')).toEqual({ os: 'linux', architecture: 'arm', variant: 'v6' });
    expect(parsePlatform('linux/x86_64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(() => parsePlatform('amd64')).toThrow(/os\/arch/);
  });

  const idx = index([
    ['unknown', 'unknown', undefined, { 'vnd.docker.reference.type': 'attestation-manifest' }],
    ['linux', 'arm', 'v6'], ['linux', 'arm', 'v7'], ['linux', 'arm64', 'v8'], ['linux', 'amd64'], ['windows', 'amd64'],
  ]);

  it('selects os/arch/variant', () => {
    expect(selectPlatform(idx, { os: 'linux', architecture: 'amd64' }, 'x').digest).toBe(d('7'));
    expect(selectPlatform(idx, { os: 'linux', architecture: 'arm', variant: 'v6' }, 'x').digest).toBe(d('4'));
    // arm defaults to v7, arm64 to v8, on either side.
    expect(selectPlatform(idx, { os: 'linux', architecture: 'arm' }, 'x').digest).toBe(d('5'));
    expect(selectPlatform(index([['linux', 'arm64']]), { os: 'linux', architecture: 'arm64', variant: 'v8' }, 'x').digest).toBe(d('3'));
    expect(selectPlatform(idx, { os: 'windows', architecture: 'amd64' }, 'x').digest).toBe(d('8'));
  });

  it('names the available platforms when none matches', () => {
    expect(() => selectPlatform(idx, { os: 'linux', architecture: 's390x' }, 'reg/a:1'))
      .toThrow('reg/a:1: no image for platform linux/s390x (available: linux/arm/v6, linux/arm/v7, linux/arm64/v8, linux/amd64, windows/amd64)');
  });

  it('takes the only entry of an index without platforms', () => {
    const one: ImageIndex = { schemaVersion: 2, manifests: [{ mediaType: MediaType.ociManifest, digest: d('9'), size: 1 }] };
    expect(selectPlatform(one, { os: 'linux', architecture: 'amd64' }, 'x').digest).toBe(d('9'));
  });
});
