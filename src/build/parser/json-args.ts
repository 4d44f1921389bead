// The exec (JSON) form: `["a", "b"]`. Anything that is not valid JSON falls
// back to the shell form, as docker does (so `CMD ['a']` is a shell command),
// but a valid JSON array holding something other than strings is an error.
import { fail } from './located-error.js';
import { trimLeftSpace } from '../shell/unicode.js';

/** The strings of a JSON array, or null when `text` is not a JSON array. */
export function parseJsonArray(text: string): string[] | null {
  const t = trimLeftSpace(text);
  if (!t.startsWith('[')) return null;
  let value: unknown;
  try {
    value = JSON.parse(t);
  } catch {
    return null;
  }
  if (!Array.isArray(value)) return null;
  if (!value.every((v): v is string => typeof v === 'string')) {
    fail('E_PARSE', 'when using JSON array syntax, arrays must be comprised of strings only');
  }
  return value;
}
