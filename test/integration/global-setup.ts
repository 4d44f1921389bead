// Integration fixtures shared by every test file: a busybox root filesystem
// made from Debian's busybox-static (the base of every test image), and the
// same as a one-layer OCI layout named docker.io/library/busybox:stable.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
// @ts-expect-error: a plain .mjs script shared with the example and benchmarks
import { writeBusyboxLayout } from '../../scripts/make-busybox-image.mjs';
import { busyboxLayout, fixturesDir } from './fixtures.js';
import { cleanupStaleBuildKits } from './build/buildkit.js';
import { cleanupStaleRegistries } from './registry-server.js';
import { cleanupStaleGuests } from './uml/guest.js';

export default async function setup(): Promise<() => void> {
  // The CLI under test runs from dist/bundle/: rebuild it from dist/ so a
  // plain `tsc` before the tests is never shadowed by a stale bundle.
  execFileSync(process.execPath, ['scripts/bundle.mjs'], { cwd: join(import.meta.dirname, '../..'), stdio: 'inherit' });
  mkdirSync(fixturesDir, { recursive: true });
  await (writeBusyboxLayout as (layout: string, rootfs: string) => Promise<unknown>)(busyboxLayout, join(fixturesDir, 'busybox-rootfs'));
  // Registries and dockerds left running by a test run that was killed (SIGKILL, Ctrl-C).
  cleanupStaleRegistries();
  cleanupStaleBuildKits();
  // user-mode-linux guests of such a run, and their temp dirs.
  cleanupStaleGuests();
  // The fixtures are made afresh by every run: leave no temp dir behind.
  return () => rmSync(fixturesDir, { recursive: true, force: true });
}
