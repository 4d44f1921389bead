// Integration fixtures shared by every test file: a busybox root filesystem
// made from Debian's busybox-static (the base of every test image).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, symlinkSync, copyFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { fixturesDir } from './fixtures.js';
import { cleanupStaleRegistries } from './registry-server.js';

export function makeBusyboxRootfs(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'tmp', 'root', 'proc', 'sys', 'dev', 'var', 'home']) {
    mkdirSync(join(dir, d), { recursive: true });
  }
  chmodSync(join(dir, 'tmp'), 0o1777);
  copyFileSync('/bin/busybox', join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  // busybox --list-full prints applet paths such as usr/bin/md5sum.
  const applets = execFileSync('/bin/busybox', ['--list-full'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const a of applets) {
    const p = join(dir, a);
    if (a === 'bin/busybox' || existsSync(p)) continue;
    mkdirSync(join(p, '..'), { recursive: true });
    symlinkSync('/bin/busybox', p);
  }
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nalice:x:1000:1000:alice:/home/alice:/bin/sh\n');
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\ndaemon:x:1:\nstaff:x:50:alice\nnogroup:x:65534:\nalice:x:1000:\n');
}

export default function setup(): void {
  mkdirSync(fixturesDir, { recursive: true });
  makeBusyboxRootfs(join(fixturesDir, 'busybox-rootfs'));
  // Registries left running by a test run that was killed (SIGKILL, Ctrl-C).
  cleanupStaleRegistries();
}
