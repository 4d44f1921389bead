// Go duration strings (`30s`, `1m30s`, `1.5h`, `500ms`), which HEALTHCHECK
// takes because docker parses them with time.ParseDuration. Results are in
// nanoseconds, the unit the image config stores.
import { fail } from '../parser/located-error.js';

const UNIT_NS: Record<string, number> = {
  ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9,
};

// µ and μ as escapes: the CLI's bundle stays ASCII (scripts/bundle.mjs).
const PART = /^(\d*(?:\.\d*)?)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)/;

export function parseGoDuration(text: string): number {
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest.startsWith('-') ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') invalid(text);
  let total = 0;
  while (rest !== '') {
    const m = PART.exec(rest);
    const number = m?.[1];
    if (!m || number === undefined || number === '' || number === '.') invalid(text);
    total += Number(number) * (UNIT_NS[m[2] as string] as number);
    rest = rest.slice(m[0].length);
  }
  return sign * Math.round(total);
}

function invalid(text: string): never {
  return fail('E_BAD_FLAG', `invalid duration ${JSON.stringify(text)} (use a number and a unit, like 30s, 1m30s or 500ms)`);
}
