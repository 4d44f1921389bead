import { describe, expect, it } from 'vitest';
import { humanDuration } from '../../../src/cli/cmd-ps.js';

const S = 1000;
const H = 3600 * S;

describe('humanDuration', () => {
  it("spells durations as docker's CREATED and STATUS columns do", () => {
    const cases: [number, string][] = [
      [400, 'Less than a second'], [S, '1 second'], [59 * S, '59 seconds'], [60 * S, 'About a minute'],
      [119 * S, 'About a minute'], [45 * 60 * S, '45 minutes'], [H, 'About an hour'], [5 * H, '5 hours'],
      [47 * H, '47 hours'], [48 * H, '2 days'], [13 * 24 * H, '13 days'], [15 * 24 * H, '2 weeks'],
      [70 * 24 * H, '2 months'], [700 * 24 * H, '23 months'], [56.9 * 365 * 24 * H, '56 years'], [-5, 'Less than a second'],
    ];
    expect(cases.map(([ms]) => humanDuration(ms))).toEqual(cases.map(([, text]) => text));
  });
});
