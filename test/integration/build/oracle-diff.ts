// How the differential test compares tsbuild's image with one oracle's
// (buildah or BuildKit): every path of the flattened rootfs and every
// compared config field must be the same, except where the case records a
// quirk of that oracle. A quirk's path or field is checked against docker's
// behaviour instead (the `expected` of the quirk), and the oracle must still
// differ there, so a quirk gone stale (a fixed oracle, a wrong note) fails.
import type { OracleConfigQuirk, OracleQuirk } from '../../shared/corpus.js';
import { comparableConfig, diffConfig, diffRootfs, type FsEntry, type ImageDescription } from './oci-rootfs.js';

export interface OracleLane {
  /** `buildah` or `BuildKit`: how differences name the oracle. */
  name: string;
  quirks: OracleQuirk[];
  configQuirks: OracleConfigQuirk[];
  /** Artifacts of the oracle's RUN steps that docker's images never have (see the lanes). */
  artifact?: (path: string, theirs: FsEntry | undefined, ours: FsEntry | undefined) => boolean;
  /** Compare docker's config fields too (Shell, Healthcheck, OnBuild). */
  dockerConfig?: boolean;
}

/** Every difference between the oracle's image and tsbuild's, as readable lines. */
export function imageDifferences(lane: OracleLane, theirs: ImageDescription, ours: ImageDescription): string[] {
  const names: [string, string] = [lane.name, 'tsbuild'];
  const quirkPaths = new Set(lane.quirks.map((q) => q.path));
  const ignore = (p: string, t?: FsEntry, o?: FsEntry): boolean => quirkPaths.has(p) || (lane.artifact?.(p, t, o) ?? false);
  const opts = { docker: lane.dockerConfig ?? false };
  const tc = comparableConfig(theirs.config, opts);
  const oc = comparableConfig(ours.config, opts);
  const configQuirkDiffs = lane.configQuirks.flatMap((q) => {
    const out: string[] = [];
    if (!(q.field in oc)) out.push(`config.${q.field}: not a compared field; fix the quirk`);
    if (JSON.stringify(oc[q.field]) !== JSON.stringify(q.expected)) out.push(`config.${q.field}: tsbuild=${JSON.stringify(oc[q.field])} but docker's is ${JSON.stringify(q.expected)} (${q.why})`);
    if (JSON.stringify(tc[q.field]) === JSON.stringify(q.expected)) out.push(`config.${q.field}: ${lane.name} now does what docker does; drop the quirk`);
    return out;
  });
  return [
    ...diffRootfs(theirs.rootfs, ours.rootfs, names, ignore),
    ...lane.quirks.flatMap((q) => quirkDifferences(lane.name, q, theirs.rootfs.get(q.path), ours.rootfs.get(q.path))),
    ...diffConfig(theirs.config, ours.config, names, new Set(lane.configQuirks.map((q) => q.field)), opts),
    ...configQuirkDiffs,
  ];
}

/** A documented quirk: tsbuild must do what docker does, and the oracle must still differ. */
function quirkDifferences(oracle: string, q: OracleQuirk, theirs: FsEntry | undefined, ours: FsEntry | undefined): string[] {
  const out: string[] = [];
  if (q.expected === null) {
    if (ours !== undefined) out.push(`${q.path}: tsbuild has it but docker's image has nothing there (${q.why})`);
    if (theirs === undefined) out.push(`${q.path}: ${oracle} now does what docker does; drop the quirk and compare it again`);
    return out;
  }
  const fields = Object.entries(q.expected) as [keyof FsEntry, unknown][];
  const bad = fields.filter(([k, v]) => ours?.[k] !== v);
  if (bad.length > 0) out.push(`${q.path}: tsbuild=${JSON.stringify(ours && Object.fromEntries(fields.map(([k]) => [k, ours[k]])))} but docker's behaviour is ${JSON.stringify(q.expected)} (${q.why})`);
  if (theirs && fields.every(([k, v]) => theirs[k] === v)) out.push(`${q.path}: ${oracle} now does what docker does; drop the quirk and compare it again`);
  return out;
}
