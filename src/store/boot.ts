// The running kernel's boot id. Content named without a sync is trusted
// only within the boot that wrote it (the crash rule in index.ts): until a
// crash, the page cache holds it whole, even if its writer was killed.
import { readFileSync } from 'node:fs';

let boot: string | undefined;

export function bootId(): string {
  boot ??= readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  return boot;
}
