// The id maps of rootless mode: which subordinate ranges /etc/subuid and
// /etc/subgid give the user, and the newuidmap/newgidmap arguments that map
// the user to 0 and those ranges to 1, 2, … (as buildah and podman map them).
// Pure functions over the files' text, so that they are unit-tested.
import { TsbuildError } from '../../errors.js';

export interface IdRange {
  start: number;
  count: number;
}

/**
 * The ranges of `name` (or of its numeric id, which shadow-utils also
 * accepts) in a subuid/subgid file, in file order. Comments, blank and
 * malformed lines are skipped, as newuidmap skips them.
 */
export function subordinateRanges(text: string, name: string, id: number): IdRange[] {
  const out: IdRange[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [owner, start, count] = line.split(':');
    if (owner !== name && owner !== String(id)) continue;
    const s = Number(start);
    const c = Number(count);
    if (!Number.isSafeInteger(s) || !Number.isSafeInteger(c) || s < 0 || c <= 0 || !/^\d+$/.test(start ?? '') || !/^\d+$/.test(count ?? '')) continue;
    out.push({ start: s, count: c });
  }
  return out;
}

/** `PID 0 ID 1 1 START COUNT …`: the user is 0, the ranges follow from 1. */
export function mapperArgs(pid: number, id: number, ranges: IdRange[]): string[] {
  const args = [String(pid), '0', String(id), '1'];
  let next = 1;
  for (const r of ranges) {
    args.push(String(next), String(r.start), String(r.count));
    next += r.count;
  }
  return args;
}

/** Total ids the namespace maps (the user's own plus the ranges). */
export function mappedIds(ranges: IdRange[]): number {
  return 1 + ranges.reduce((n, r) => n + r.count, 0);
}

/** Ranges of the user in `file`, or the one-line error that says how to add them. */
export function requireRanges(text: string | undefined, file: string, name: string, id: number): IdRange[] {
  const ranges = text === undefined ? [] : subordinateRanges(text, name, id);
  if (ranges.length === 0) {
    const flag = file.endsWith('subgid') ? 'subgids' : 'subuids';
    throw new TsbuildError('E_ROOTLESS_IDS', `rootless: no subordinate ids for ${name} in ${file} (as root: usermod --add-${flag} 100000-165535 ${name})`, { exitCode: 125 });
  }
  return ranges;
}

/**
 * overlayfs in a user namespace needs Linux 5.11 (unprivileged mounts and
 * `userxattr`). `release` is os.release(); undefined means it is new enough.
 */
export function kernelProblem(release: string): string | undefined {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) return undefined;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  if (major > 5 || (major === 5 && minor >= 11)) return undefined;
  return `rootless: Linux ${major}.${minor} cannot mount overlayfs in a user namespace (needs 5.11 or later, for the userxattr option); run as root or on a newer kernel`;
}
