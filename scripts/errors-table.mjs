#!/usr/bin/env node
// Prints the README's errors table from the one source of the codes:
// ERROR_CODES and NATIVE_ERROR_MEANINGS in src/errors.ts (read from dist/,
// so run `npm run build:ts` first). The unit test
// test/unit/errors.test.ts checks that the README's table lists exactly
// these codes.
//   node scripts/errors-table.mjs
import { pathToFileURL } from 'node:url';

/** The markdown table: one row per code, ours first, then the native module's. */
export function errorsTable(tsCodes, nativeCodes) {
  const rows = [...Object.entries(tsCodes), ...Object.entries(nativeCodes).filter(([code]) => !(code in tsCodes))];
  return ['| Code | Meaning |', '| --- | --- |', ...rows.map(([code, meaning]) => `| \`${code}\` | ${meaning.replace(/\|/g, '\\|')} |`)].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { ERROR_CODES, NATIVE_ERROR_MEANINGS } = await import('../dist/errors.js');
  process.stdout.write(`${errorsTable(ERROR_CODES, NATIVE_ERROR_MEANINGS)}\n`);
}
