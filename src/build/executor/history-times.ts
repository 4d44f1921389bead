// The times an image records: `created` of the config and of each history
// entry. A fully cached rebuild must give the image ID it gave before, so
// no time may come from the clock unless a step actually ran:
// - with a SOURCE_DATE_EPOCH, every entry this build adds and the config's
//   `created` are the epoch (the base image's entries keep theirs, as
//   BuildKit keeps them: moby/buildkit#4614);
// - without one, a layer step records when it ran (and the cache keeps that
//   with the layer), a config-only step (ENV, LABEL, …) records nothing
//   while building, and the image gets BuildKit's rule when it is recorded
//   (exporter/containerimage/writer.go, normalizeLayersAndHistory): entries
//   without a time take the first new layer's time if they precede it, else
//   the previous entry's; the config's `created` is the last entry's time.
import type { HistoryEntry, ImageConfig } from '../../image/oci.js';
import { epochTime, type SourceDateEpoch } from '../context/index.js';

/** `created` for a config-only entry added while building. */
export function newEntryTime(epoch: SourceDateEpoch | undefined): { created?: string } {
  return epoch ? { created: epochTime(epoch) } : {};
}

/** `created` for a step that runs now. */
export function stepTime(epoch: SourceDateEpoch | undefined): string {
  return epoch ? epochTime(epoch) : new Date().toISOString();
}

/** Fills the entries left without a time (BuildKit's rule, above). */
export function fillHistoryTimes(history: readonly HistoryEntry[]): HistoryEntry[] {
  let created: string | undefined;
  let gap = false;
  for (const h of history) {
    if (h.created !== undefined) {
      created = h.created;
      if (gap) break; // the first time after a gap: the first new layer's
    } else gap = true;
  }
  gap = false;
  return history.map((h) => {
    if (h.created !== undefined) {
      if (gap) created = h.created;
      return h;
    }
    gap = true;
    return created === undefined ? h : { ...h, created };
  });
}

/** The config as recorded: history times filled, `created` set (left out when nothing gives a time). */
export function withFinalTimes(config: ImageConfig, epoch: SourceDateEpoch | undefined): ImageConfig {
  const history = fillHistoryTimes(config.history ?? []);
  const { created: _old, ...rest } = config;
  const created = epoch ? epochTime(epoch) : history.findLast((h) => h.created !== undefined)?.created;
  return { ...(created !== undefined ? { created } : {}), ...rest, history };
}
