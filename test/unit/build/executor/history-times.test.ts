// The times a recorded image carries: BuildKit's fill-in rule for entries
// that a config-only step left without a time, and the epoch's override.
import { describe, expect, it } from 'vitest';
import { fillHistoryTimes, withFinalTimes } from '../../../../src/build/executor/history-times.js';

const T = (n: number) => `2020-01-0${n}T00:00:00Z`;

describe('history times', () => {
  it('entries before the first new layer take its time; later ones the previous entry\'s', () => {
    const filled = fillHistoryTimes([
      { created: T(1), created_by: 'base' },
      { created_by: 'ENV' },
      { created_by: 'LABEL' },
      { created: T(3), created_by: 'RUN' },
      { created_by: 'CMD' },
      { created: T(5), created_by: 'COPY' },
      { created_by: 'USER' },
    ]);
    expect(filled.map((h) => h.created)).toEqual([T(1), T(3), T(3), T(3), T(3), T(5), T(5)]);
  });

  it('metadata steps on a base alone take the base\'s last time; nothing at all leaves `created` out', () => {
    expect(fillHistoryTimes([{ created: T(2) }, { created_by: 'ENV' }]).map((h) => h.created)).toEqual([T(2), T(2)]);
    const bare = withFinalTimes({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, history: [{ created_by: 'ENV' }] }, undefined);
    expect(bare.created).toBeUndefined();
    expect(bare.history).toEqual([{ created_by: 'ENV' }]);
  });

  it('the config takes the last entry\'s time, or the epoch when there is one', () => {
    const config = { created: 'now', architecture: 'amd64', os: 'linux', rootfs: { type: 'layers' as const, diff_ids: [] }, history: [{ created: T(1) }, { created: T(4) }, { created_by: 'ENV' }] };
    expect(withFinalTimes(config, undefined).created).toBe(T(4));
    expect(withFinalTimes(config, { seconds: 1_600_000_000, source: 'flag' }).created).toBe('2020-09-13T12:26:40Z');
  });
});
