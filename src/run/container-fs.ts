// A container's directories: the overlay's read-write layer (upper + its
// work dir), the init layer that sits between the image and the rw layer,
// and the mountpoint. The init layer holds /etc/hosts, /etc/resolv.conf and
// /etc/hostname for this container only; it is never committed.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { containerDir } from './state.js';

export interface ContainerPaths {
  dir: string;
  upper: string;
  work: string;
  init: string;
  merged: string;
  statusFile: string;
  logFile: string;
}

export function containerPaths(root: string, id: string): ContainerPaths {
  const dir = containerDir(root, id);
  return {
    dir,
    upper: join(dir, 'upper'),
    work: join(dir, 'work'),
    init: join(dir, 'init'),
    merged: join(dir, 'merged'),
    statusFile: join(dir, 'exit-status'),
    logFile: join(dir, 'output.log'),
  };
}

/** Files the init layer provides; commit and build leave them out of layers. */
export const INIT_FILES = ['etc/hosts', 'etc/resolv.conf', 'etc/hostname'] as const;

function hostResolvConf(): string {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
}

export function prepareContainerDirs(p: ContainerPaths, hostname: string): void {
  for (const d of [p.upper, p.work, p.merged, join(p.init, 'etc')]) mkdirSync(d, { recursive: true, mode: 0o755 });
  writeFileSync(join(p.init, 'etc/hostname'), `${hostname}\n`);
  writeFileSync(
    join(p.init, 'etc/hosts'),
    `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${hostname}\n`,
  );
  writeFileSync(join(p.init, 'etc/resolv.conf'), hostResolvConf());
}

/**
 * /proc/meminfo shows the host's memory. With a memory limit, give the
 * container a meminfo whose totals are its limit, so that tools sizing
 * themselves from it (free, JVMs, build tools) see what they may use.
 */
export function writeMeminfo(path: string, limitBytes: number): void {
  const kb = Math.floor(limitBytes / 1024);
  const host = (() => {
    try {
      return readFileSync('/proc/meminfo', 'utf8');
    } catch {
      return '';
    }
  })();
  const override: Record<string, number> = { MemTotal: kb, MemFree: kb, MemAvailable: kb, Buffers: 0, Cached: 0, SwapCached: 0, SwapTotal: 0, SwapFree: 0, Shmem: 0 };
  const lines = host.split('\n').filter(Boolean).map((l) => {
    const key = l.split(':')[0] as string;
    const v = override[key];
    return v === undefined ? l : `${`${key}:`.padEnd(16)}${String(v).padStart(8)} kB`;
  });
  writeFileSync(path, `${lines.join('\n')}\n`);
}
