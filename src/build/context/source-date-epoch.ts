// Which SOURCE_DATE_EPOCH a build uses (reproducible-builds.org's variable:
// seconds since 1970, UTC). In order: `--source-date-epoch N`, then
// `--build-arg SOURCE_DATE_EPOCH=N`, then SOURCE_DATE_EPOCH in the
// environment (buildx passes it on as that build arg too), then the HEAD
// commit time when the context is in a git work tree. `now` (flag, build
// arg or environment) opts out: the build's own time, as before, and no git
// lookup. The epoch sets `created` of the config and of new history entries
// and clamps the mtimes in new layers (see executor/history-times.ts and
// image/layer-writer.ts).
import { usageError } from '../../errors.js';
import { gitHeadTime } from './git-head.js';

export const EPOCH_ARG = 'SOURCE_DATE_EPOCH';

export interface SourceDateEpoch {
  seconds: number;
  /** Where it came from, for --metadata-file and logs. */
  source: 'flag' | 'build-arg' | 'env' | 'git';
}

function parse(value: string, what: string): number | 'now' {
  const v = value.trim();
  if (v === 'now') return 'now';
  if (!/^\d{1,12}$/.test(v)) throw usageError(`invalid ${what} "${value}": expected seconds since 1970 (an integer) or "now"`);
  return Number(v);
}

export function resolveSourceDateEpoch(inputs: { flag?: string; buildArgs: ReadonlyMap<string, string>; env: NodeJS.ProcessEnv; contextDir: string }): SourceDateEpoch | undefined {
  const given: [string | undefined, SourceDateEpoch['source'], string][] = [
    [inputs.flag, 'flag', '--source-date-epoch'],
    [inputs.buildArgs.get(EPOCH_ARG), 'build-arg', `--build-arg ${EPOCH_ARG}`],
    // An empty variable counts as unset, as reproducible-builds.org's spec asks.
    [inputs.env[EPOCH_ARG] === '' ? undefined : inputs.env[EPOCH_ARG], 'env', `${EPOCH_ARG} in the environment`],
  ];
  for (const [value, source, what] of given) {
    if (value === undefined) continue;
    const v = parse(value, what);
    return v === 'now' ? undefined : { seconds: v, source };
  }
  const git = gitHeadTime(inputs.contextDir);
  return git === undefined ? undefined : { seconds: git, source: 'git' };
}

/** The epoch as an RFC 3339 time, as OCI's `created` fields hold it. */
export function epochTime(e: SourceDateEpoch): string {
  return new Date(e.seconds * 1000).toISOString().replace('.000Z', 'Z');
}
