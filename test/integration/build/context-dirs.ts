// Helpers for build tests: a context directory written from a map of
// files, and the paths an image's layers hold (read from a saved OCI
// layout with the tar oracle), to prove that something stayed out.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { tsbuild } from '../fixtures.js';

/** Writes `work/name` with a Containerfile and files; returns its path. */
export function writeContext(work: string, name: string, containerfile: string, files: Record<string, string> = {}): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'Containerfile'), containerfile);
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), content);
  }
  return dir;
}

/** Every path in the image's layers (from the saved OCI layout), to prove something is absent. */
export function layerPaths(root: string, work: string, image: string): string[] {
  const out = join(work, `save-${Math.random().toString(16).slice(2)}`);
  expect(tsbuild(root, ['save', '--format', 'oci-dir', '-o', out, image]).status).toBe(0);
  const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const manifest = JSON.parse(readFileSync(join(out, 'blobs/sha256', index.manifests[0]!.digest.slice(7)), 'utf8')) as { layers: { digest: string }[] };
  const paths = manifest.layers.flatMap((l) => execFileSync('tar', ['-tzf', join(out, 'blobs/sha256', l.digest.slice(7))], { encoding: 'utf8' }).split('\n').filter(Boolean));
  rmSync(out, { recursive: true, force: true });
  return paths;
}
