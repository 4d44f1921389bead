// Instruction flags (`COPY --from=build`, `RUN --mount=…`): each instruction
// declares the flags it takes and their types; anything else is an error with
// a suggestion. Values are kept as written for expansion later. Rules follow
// buildkit's BFlags: `--flag` alone sets a boolean, `--flag=` is an empty
// string value, and only list flags may repeat.
import { fail, shown } from '../parser/located-error.js';
import { didYouMean } from './suggest.js';

export type FlagType = 'string' | 'bool' | 'list';
export type FlagSpec = Readonly<Record<string, FlagType>>;

export class ParsedFlags {
  constructor(private readonly values: ReadonlyMap<string, string | boolean | string[]>) {}

  string(name: string): string | null {
    const v = this.values.get(name);
    return typeof v === 'string' ? v : null;
  }

  bool(name: string): boolean | null {
    const v = this.values.get(name);
    return typeof v === 'boolean' ? v : null;
  }

  list(name: string): string[] {
    const v = this.values.get(name);
    return Array.isArray(v) ? v : [];
  }
}

export function parseFlags(instruction: string, flags: readonly string[], spec: FlagSpec): ParsedFlags {
  const values = new Map<string, string | boolean | string[]>();
  const known = Object.keys(spec);
  for (const flag of flags) {
    if (!flag.startsWith('--')) fail('E_BAD_FLAG', `${instruction} flag ${JSON.stringify(flag)} should start with --`);
    const eq = flag.indexOf('=');
    const name = eq < 0 ? flag.slice(2) : flag.slice(2, eq);
    const value = eq < 0 ? null : flag.slice(eq + 1);
    const type = Object.hasOwn(spec, name) ? spec[name] : undefined;
    if (type === undefined) {
      const options = known.length === 0 ? ' (it takes no flags)' : didYouMean(name, known, (s) => `--${s}`);
      fail('E_UNKNOWN_FLAG', `unknown flag for ${instruction}: ${shown(`--${name}`)}${options}`);
    }
    if (values.has(name) && type !== 'list') fail('E_BAD_FLAG', `duplicate flag for ${instruction}: --${name}`);
    if (type === 'bool') {
      if (value === null) { values.set(name, true); continue; }
      const lower = value.toLowerCase();
      if (lower !== 'true' && lower !== 'false') fail('E_BAD_FLAG', `--${name} expects true or false, not ${JSON.stringify(value)}`);
      values.set(name, lower === 'true');
      continue;
    }
    if (value === null) fail('E_BAD_FLAG', `missing a value on flag --${name} (use --${name}=VALUE)`);
    if (type === 'string') values.set(name, value);
    else values.set(name, [...((values.get(name) as string[] | undefined) ?? []), value]);
  }
  return new ParsedFlags(values);
}
