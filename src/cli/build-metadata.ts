// `build --iidfile` and `--metadata-file`: what CI reads after a build.
// The iidfile holds the image ID alone (`sha256:…`, no newline), as docker,
// buildx and buildah write it. The metadata file uses buildx's keys
// (docs.docker.com/reference/cli/docker/buildx/build/#metadata-file:
// "containerimage.config.digest", "containerimage.descriptor",
// "containerimage.digest", "image.name" as comma-joined names) so tools
// written for buildx read it, plus tsbuild's own keys: what was pushed
// (reference and manifest digest), the SOURCE_DATE_EPOCH and its source,
// and per step whether it was cached, from which cache, and its duration.
// Both are written whole or not at all (temp file, rename).
import { renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { TsbuildError } from '../errors.js';
import type { BuildResult } from '../build/executor/build.js';
import type { SourceDateEpoch } from '../build/context/index.js';

export interface Pushed { reference: string; digest: string }

function writeWhole(path: string, data: string, flag: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (err) {
    throw new TsbuildError('E_WRITE', `cannot write ${flag} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

export function buildMetadata(result: BuildResult, pushed: readonly Pushed[], epoch: SourceDateEpoch | undefined): Record<string, unknown> {
  return {
    'containerimage.config.digest': result.imageId,
    'containerimage.descriptor': { mediaType: result.manifestMediaType, digest: result.manifestDigest, size: result.manifestSize },
    'containerimage.digest': result.manifestDigest,
    ...(result.tags.length > 0 ? { 'image.name': result.tags.join(',') } : {}),
    'tsbuild.pushed': pushed,
    'tsbuild.source-date-epoch': epoch ?? null,
    'tsbuild.steps': result.steps,
  };
}

export function writeBuildOutputs(files: { iidfile?: string | undefined; metadataFile?: string | undefined }, result: BuildResult, pushed: readonly Pushed[], epoch: SourceDateEpoch | undefined): void {
  if (files.iidfile) writeWhole(files.iidfile, result.imageId, '--iidfile');
  if (files.metadataFile) writeWhole(files.metadataFile, `${JSON.stringify(buildMetadata(result, pushed, epoch), null, 2)}\n`, '--metadata-file');
}
