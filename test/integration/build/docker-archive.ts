// Reads a docker-archive (what `docker save` writes: manifest.json, the
// image config as <id>.json and each layer as an uncompressed <dir>/layer.tar)
// into the same description as an OCI layout (oci-rootfs.ts), so BuildKit's
// images compare with tsbuild's the way buildah's do. Test-side and
// independent of tsbuild's own archive code, as the oracle must be.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { describeImage, readTar, type ImageDescription, type RawConfig } from './oci-rootfs.js';

interface ArchiveManifest { Config: string; RepoTags: string[] | null; Layers: string[] }

/** Reads the single-image docker-archive at `path`. */
export async function readDockerArchive(path: string): Promise<ImageDescription> {
  const files = new Map<string, Buffer>();
  const links: Array<[string, string]> = [];
  for (const { header, body } of await readTar(readFileSync(path))) {
    const name = posix.normalize(header.name);
    if (header.type === 'file') files.set(name, body);
    // docker saves a layer that repeats an earlier one as a symlink to it.
    if (header.type === 'symlink') links.push([name, posix.join(posix.dirname(name), header.linkname ?? '')]);
  }
  for (const [name, target] of links) {
    const data = files.get(target);
    if (data) files.set(name, data);
  }
  const file = (name: string): Buffer => {
    const data = files.get(name);
    if (data === undefined) throw new Error(`${path}: no ${name} in the archive`);
    return data;
  };
  const manifest = JSON.parse(file('manifest.json').toString('utf8')) as ArchiveManifest[];
  if (manifest.length !== 1) throw new Error(`${path}: expected one image, found ${manifest.length}`);
  const [image] = manifest as [ArchiveManifest];
  const configData = file(image.Config);
  // docker names the config after its own digest: check it, as blob() does for OCI.
  const hex = createHash('sha256').update(configData).digest('hex');
  if (!image.Config.includes(hex)) throw new Error(`${path}: config ${image.Config} hashes to ${hex}`);
  const layers = image.Layers.map((name) => {
    const tar = file(name);
    return { digest: `sha256:${createHash('sha256').update(tar).digest('hex')}`, tar };
  });
  return describeImage(path, JSON.parse(configData.toString('utf8')) as RawConfig, layers);
}
