// The arm64 half of the multi-platform fixtures (scripts/lib/busybox-arm64.mjs,
// shared with the benchmark): Debian's busybox-static:arm64 unpacked into a
// rootfs like busyboxRootfs, made once per run under the fixtures dir.
import { join } from 'node:path';
// @ts-expect-error: a plain .mjs module shared with the benchmarks
import { ensureBinfmt as ensure, writeArm64BusyboxRootfs } from '../../../scripts/lib/busybox-arm64.mjs';
import { busyboxRootfs, fixturesDir } from '../fixtures.js';

export function arm64BusyboxRootfs(): Promise<string> {
  return (writeArm64BusyboxRootfs as (d: string, a: string, deb: string) => Promise<string>)(join(fixturesDir, 'busybox-rootfs-arm64'), busyboxRootfs, join(fixturesDir, 'deb-arm64'));
}

export function ensureBinfmt(): void {
  (ensure as () => void)();
}
