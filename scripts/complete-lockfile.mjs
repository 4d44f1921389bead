#!/usr/bin/env node
// Completes package-lock.json with the platform-specific optional packages
// that `npm install` could not resolve here (this machine's registry lacks
// e.g. @napi-rs/tar-android-arm-eabi, so npm leaves them out of the lock,
// and `npm ci` then refuses the lock as out of sync). Each missing entry is
// added with the os/cpu/libc its name declares, so npm ci skips it on any
// other platform without fetching it. Run after `npm install` changes deps.
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const pkgs = lock.packages;

function platformOf(name) {
  const tail = name.split('/').pop();
  const os = ['android', 'darwin', 'freebsd', 'win32', 'linux', 'openharmony', 'wasm32'].find((o) => tail.includes(`-${o}-`) || tail.endsWith(`-${o}`));
  const cpu = ['arm64', 'arm', 'x64', 'ia32', 'ppc64', 'riscv64', 's390x', 'wasm32', 'loong64'].find((c) => tail.includes(`-${c}`));
  const entry = {};
  if (os && os !== 'wasm32') entry.os = [os];
  if (cpu) entry.cpu = [cpu];
  if (tail.endsWith('-musl')) entry.libc = ['musl'];
  if (tail.endsWith('-gnu') || tail.endsWith('-gnueabihf')) entry.libc = ['glibc'];
  return entry;
}

let added = 0;
for (const [key, meta] of Object.entries(pkgs)) {
  for (const [dep, version] of Object.entries(meta.optionalDependencies ?? {})) {
    const at = `node_modules/${dep}`;
    const nested = `${key}/node_modules/${dep}`;
    if (pkgs[at] || pkgs[nested]) continue;
    pkgs[at] = { version, ...(meta.dev ? { dev: true } : {}), optional: true, ...platformOf(dep) };
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(pkgs).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
process.stdout.write(`complete-lockfile: added ${added} platform entries\n`);
