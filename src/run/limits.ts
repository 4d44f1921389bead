// Resource flags (--memory, --cpus, --cpu-period, --cpu-quota, --pids-limit,
// --cpuset-cpus) parsed and validated into kernel units, with docker's
// spelling and docker's error wording where users will search for it.
import { usageError } from '../errors.js';

export interface ResourceLimits {
  cpuPeriod?: number;
  cpuQuota?: number;
  memory?: number;
  pids?: number;
  cpusetCpus?: string;
}

const units: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4 };

/** `32m`, `1.5g`, `4096`, `512KiB` → bytes. Throws a usage error for anything else. */
export function parseSize(s: string, flag = '--memory'): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)$/i.exec(s.trim());
  const unit = m ? (m[2] as string).toLowerCase().replace('i', '') : undefined;
  if (!m || unit === undefined || !(unit in units)) throw usageError(`invalid size for ${flag}: "${s}" (use a number with an optional unit: b, k, m, g)`);
  const bytes = Math.floor(Number(m[1]) * (units[unit] as number));
  return bytes;
}

function parseInteger(s: string, flag: string, min: number): number {
  if (!/^-?\d+$/.test(s.trim())) throw usageError(`invalid value "${s}" for ${flag}: expected an integer`);
  const n = Number(s);
  if (n < min) throw usageError(`invalid value "${s}" for ${flag}: must be at least ${min}`);
  return n;
}

export interface LimitFlags {
  memory?: string;
  cpus?: string;
  cpuPeriod?: string;
  cpuQuota?: string;
  pidsLimit?: string;
  cpusetCpus?: string;
}

export function parseLimits(f: LimitFlags): ResourceLimits {
  const out: ResourceLimits = {};
  if (f.memory !== undefined) {
    out.memory = parseSize(f.memory);
    // The kernel needs room for the page tables of even the smallest process.
    if (out.memory < 6 * 1024 * 1024) throw usageError(`minimum memory limit allowed is 6MB (got --memory ${f.memory})`);
  }
  if (f.cpuPeriod !== undefined) {
    out.cpuPeriod = parseInteger(f.cpuPeriod, '--cpu-period', 1000);
    if (out.cpuPeriod > 1_000_000) throw usageError(`invalid value "${f.cpuPeriod}" for --cpu-period: must be at most 1000000`);
  }
  if (f.cpuQuota !== undefined) {
    const q = parseInteger(f.cpuQuota, '--cpu-quota', -1);
    if (q !== -1 && q < 1000) throw usageError(`invalid value "${f.cpuQuota}" for --cpu-quota: must be at least 1000 (or -1 for no limit)`);
    out.cpuQuota = q;
  }
  if (f.cpus !== undefined) {
    if (f.cpuPeriod !== undefined || f.cpuQuota !== undefined) throw usageError('--cpus cannot be combined with --cpu-period or --cpu-quota');
    const cpus = Number(f.cpus);
    if (!/^\d*\.?\d+$/.test(f.cpus.trim()) || !(cpus > 0)) throw usageError(`invalid value "${f.cpus}" for --cpus: expected a positive number`);
    out.cpuPeriod = 100_000;
    out.cpuQuota = Math.round(cpus * 100_000);
    if (out.cpuQuota < 1000) throw usageError(`invalid value "${f.cpus}" for --cpus: must be at least 0.01`);
  }
  if (f.pidsLimit !== undefined) {
    const n = parseInteger(f.pidsLimit, '--pids-limit', -1);
    if (n > 0) out.pids = n;
    else if (n === 0) throw usageError('invalid value "0" for --pids-limit: use -1 for unlimited');
  }
  if (f.cpusetCpus !== undefined) {
    if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(f.cpusetCpus)) throw usageError(`invalid value "${f.cpusetCpus}" for --cpuset-cpus: expected a list such as 0-2,4`);
    out.cpusetCpus = f.cpusetCpus;
  }
  return out;
}

/** A human rendering of a byte count for messages: 33554432 → "32MiB". */
export function formatBytes(n: number): string {
  for (const [u, v] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (n >= v && n % v === 0) return `${n / v}${u}`;
  }
  return `${n}B`;
}
