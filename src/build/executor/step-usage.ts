// The per-step resource report: what a RUN step used (CPU user + sys, peak
// memory, the bytes its layer adds) and how it is shown in progress lines
// and `tsbuild history`. Measuring is the runtime's (run/usage.ts: cgroup
// counters where the step has a cgroup, else wait4's rusage); this module
// assembles the record a step reports (progress events, step records,
// ROOT/step-usage) and formats it. A cached step reports nothing: it did not
// run; `history` shows the figures of the run that made it.
import type { ProcessUsage } from '../../run/usage.js';
import type { StepUsage } from '../../store/step-usage.js';

export type { StepUsage } from '../../store/step-usage.js';

const round = (n: number, digits: number) => Number(n.toFixed(digits));

/** The record of one RUN step from its measured usage, its wall time and its layer's size. */
export function stepUsage(measured: ProcessUsage, wallMs: number, layerBytes: number): StepUsage {
  const userSeconds = round(measured.userSeconds, 3);
  const sysSeconds = round(measured.sysSeconds, 3);
  return {
    cpuSeconds: round(measured.userSeconds + measured.sysSeconds, 3),
    userSeconds,
    sysSeconds,
    ...(measured.peakMemoryBytes !== undefined ? { peakMemoryBytes: measured.peakMemoryBytes } : {}),
    ...(measured.peakMemoryAtMostBytes !== undefined ? { peakMemoryAtMostBytes: measured.peakMemoryAtMostBytes } : {}),
    source: measured.source,
    layerBytes,
    wallSeconds: round(wallMs / 1000, 3),
  };
}

/** Binary units, one decimal: 52428800 → "50.0MiB" (as `docker stats` prints memory). */
export function binarySize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return i === 0 ? `${v}B` : `${v.toFixed(1)}${units[i]}`;
}

export function cpuText(u: StepUsage): string {
  return `${u.cpuSeconds.toFixed(2)}s`;
}

export function memText(u: StepUsage): string {
  if (u.peakMemoryBytes !== undefined) return binarySize(u.peakMemoryBytes);
  return u.peakMemoryAtMostBytes !== undefined ? `<=${binarySize(u.peakMemoryAtMostBytes)}` : '-';
}

/**
 * The suffix a progress line gets: `cpu 1.02s, mem 50.1MiB, +10.0MiB`.
 * The wall time is printed before it, and labelled CPU is kept apart from
 * it: CPU can exceed wall time on more than one core, and is the sum over
 * the step's processes.
 */
export function usageSummary(u: StepUsage): string {
  return `cpu ${cpuText(u)}, mem ${memText(u)}, +${binarySize(u.layerBytes)}`;
}
