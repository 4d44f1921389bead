// Property test: whatever bytes a Containerfile holds, the front end either
// accepts it or throws a TsbuildError with a code and a location inside the
// file. Never a TypeError, a RangeError or a hang. Inputs come from a seeded
// generator (reproducible failures) mixing Containerfile-ish fragments with
// random characters.
import { describe, expect, it } from 'vitest';
import { checkContainerfileText } from '../../../src/build/instructions/frontend.js';
import { processWords } from '../../../src/build/shell/lex.js';
import { TsbuildError } from '../../../src/errors.js';
import { prng as rng } from '../../../scripts/lib/prng.mjs';

const FRAGMENTS = [
  'FROM ', 'FROM alpine', 'FROM alpine AS build', ' AS ', 'RUN ', 'CMD ', 'ENTRYPOINT ', 'COPY ', 'ADD ', 'ENV ', 'ARG ',
  'LABEL ', 'EXPOSE ', 'VOLUME ', 'USER ', 'WORKDIR ', 'ONBUILD ', 'STOPSIGNAL ', 'HEALTHCHECK ', 'SHELL ', 'MAINTAINER ',
  'run ', 'RUNN ', 'NONE', 'CMD', '--from=', '--from=0 ', '--from=build ', '--mount=', 'type=cache,target=/c', 'type=secret,id=x',
  ',', '--chown=1:1 ', '--link ', '--platform=$BUILDPLATFORM ', '--interval=5s ', '--retries=', '--', ' -- ', '--network=none ',
  '<<EOF', '<<-EOF', "<<'EOF'", '<<"EOF"', '3<<EOF', 'EOF', '\tEOF', '<<', '\n', '\n', '\n', '\r\n', ' ', '\t', '\\', '\\\n',
  '`', '# escape=`\n', '# syntax=docker/dockerfile:1\n', '# check=skip=all\n', '#', '# comment\n', '"', "'", '[', ']', '["a", "b"]',
  '[1]', '[]', '{', '}', '$', '${', '${A', '${A:-x}', '${A#*/}', '${A%%.*}', '${A/x/y}', '${A:?}', '$A', 'A=1', 'A="b c"', '=',
  ' 80', '80/tcp', '8000-8010', '80/icmp', '65536', '/dst', '.', 'x', 'é', '安', '😀', '\u0000', '\u0085', '\u00a0', '\ufeff',
];

function randomChars(next: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) {
    const r = next();
    if (r < 0.6) s += String.fromCharCode(32 + Math.floor(next() * 95)); // printable ASCII
    else if (r < 0.8) s += String.fromCharCode(Math.floor(next() * 32)); // control characters
    else s += String.fromCharCode(Math.floor(next() * 0x10000)); // anything, lone surrogates included
  }
  return s;
}

const KEYWORDS = [
  'FROM', 'RUN', 'CMD', 'ENTRYPOINT', 'COPY', 'ADD', 'ENV', 'ARG', 'LABEL', 'EXPOSE', 'VOLUME', 'USER', 'WORKDIR',
  'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL', 'MAINTAINER',
];

function pick<T>(next: () => number, items: readonly T[]): T {
  return items[Math.floor(next() * items.length)] as T;
}

function fragments(next: () => number, max: number): string {
  let s = '';
  const n = Math.floor(next() * (max + 1));
  for (let i = 0; i < n; i++) s += next() < 0.85 ? pick(next, FRAGMENTS) : randomChars(next, 1 + Math.floor(next() * 8));
  return s;
}

/** Mostly instruction-shaped lines (so later stages get exercised), some pure noise. */
function randomContainerfile(next: () => number): string {
  const lines: string[] = next() < 0.7 ? ['FROM alpine'] : [];
  const count = 1 + Math.floor(next() * 12);
  for (let i = 0; i < count; i++) {
    lines.push(next() < 0.8 ? `${pick(next, KEYWORDS)} ${fragments(next, 6)}` : fragments(next, 8));
  }
  return lines.join(next() < 0.9 ? '\n' : '\r\n');
}

const file = 'Fuzzfile';

describe('front end never fails except with a located TsbuildError', () => {
  it('holds for 4000 seeded inputs', () => {
    const next = rng(0x7e5b);
    let accepted = 0;
    for (let n = 0; n < 4000; n++) {
      const source = randomContainerfile(next);
      const lineCount = source.split('\n').length;
      try {
        checkContainerfileText(source, { file });
        accepted++;
      } catch (err) {
        if (!(err instanceof TsbuildError)) throw new Error(`input ${n} ${JSON.stringify(source)} threw ${String(err)}`);
        expect(err.code, JSON.stringify(source)).toMatch(/^E_[A-Z_]+$/);
        expect(err.describe(), 'errors are one line').not.toMatch(/[\r\n]/);
        expect(err.location?.file, `${err.code} ${err.message} for ${JSON.stringify(source)}`).toBe(file);
        const line = err.location?.line;
        expect(Number.isInteger(line) && (line as number) >= 1 && (line as number) <= lineCount, `line ${line} for ${JSON.stringify(source)}`).toBe(true);
      }
    }
    // The generator must exercise both paths to mean anything.
    expect(accepted).toBeGreaterThan(100);
    expect(accepted).toBeLessThan(3900);
    // 4000 parses take ~2 s alone; a loaded 2-core CI machine needs more than vitest's 5 s default.
  }, 60_000);

  it('the word expander fails only with E_EXPAND', () => {
    const next = rng(0x5eed);
    const env = new Map([['A', 'a/b.c'], ['B', ''], ['C', 'x y']]);
    for (let n = 0; n < 3000; n++) {
      const word = fragments(next, 12);
      try {
        processWords(word, env);
      } catch (err) {
        expect(err, JSON.stringify(word)).toBeInstanceOf(TsbuildError);
        expect((err as TsbuildError).code).toBe('E_EXPAND');
      }
    }
  });
});
