// Docker-style flag parsing: `-it`, `-e K=V`, `-eK=V`, `--env K=V`,
// `--env=K=V`, `--rm=false`. Commands that take a trailing command line
// (`run`, `exec`) stop at the first positional so that the container's own
// flags pass through untouched.
import { usageError } from '../errors.js';

export type FlagType = 'bool' | 'string' | 'list';

export interface FlagSpec {
  /** Long name without dashes, e.g. `cpu-period`. */
  name: string;
  short?: string;
  type: FlagType;
  help: string;
  /** Shown in help as the value's name, e.g. `SIZE`. */
  value?: string;
}

export interface ParsedArgs {
  bools: Map<string, boolean>;
  strings: Map<string, string>;
  lists: Map<string, string[]>;
  positionals: string[];
}

export interface ParseOptions {
  /** Stop flag parsing at the first positional (for `run IMAGE CMD...`). */
  stopAtPositional?: boolean;
}

export function parseArgs(argv: readonly string[], specs: readonly FlagSpec[], opts: ParseOptions = {}): ParsedArgs {
  const byLong = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short as string, s]));
  const out: ParsedArgs = { bools: new Map(), strings: new Map(), lists: new Map(), positionals: [] };

  const assign = (spec: FlagSpec, value: string | undefined, takeNext: () => string | undefined, shown: string): void => {
    if (spec.type === 'bool') {
      if (value === undefined) { out.bools.set(spec.name, true); return; }
      if (value !== 'true' && value !== 'false') throw usageError(`invalid value "${value}" for flag ${shown}: expected true or false`);
      out.bools.set(spec.name, value === 'true');
      return;
    }
    const v = value ?? takeNext();
    if (v === undefined) throw usageError(`flag needs an argument: ${shown}`);
    if (spec.type === 'string') out.strings.set(spec.name, v);
    else out.lists.set(spec.name, [...(out.lists.get(spec.name) ?? []), v]);
  };

  let i = 0;
  const takeNext = (): string | undefined => (i < argv.length ? argv[i++] : undefined);
  while (i < argv.length) {
    const arg = argv[i++] as string;
    if (arg === '--') { out.positionals.push(...argv.slice(i)); break; }
    if (arg.startsWith('--') && arg.length > 2) {
      const eq = arg.indexOf('=');
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      const spec = byLong.get(name);
      if (!spec) throw usageError(`unknown flag: --${name}`);
      assign(spec, eq < 0 ? undefined : arg.slice(eq + 1), takeNext, `--${name}`);
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      // A cluster of short flags: every one but the last must be boolean;
      // a value flag takes the rest of the cluster or the next argument.
      for (let j = 1; j < arg.length; j++) {
        const ch = arg[j] as string;
        const spec = byShort.get(ch);
        if (!spec) throw usageError(`unknown shorthand flag: '${ch}' in ${arg}`);
        if (spec.type === 'bool') { assign(spec, undefined, takeNext, `-${ch}`); continue; }
        const rest = arg.slice(j + 1);
        assign(spec, rest === '' ? undefined : rest.replace(/^=/, ''), takeNext, `-${ch}`);
        break;
      }
      continue;
    }
    out.positionals.push(arg);
    if (opts.stopAtPositional) { out.positionals.push(...argv.slice(i)); break; }
  }
  return out;
}

export function formatFlagHelp(specs: readonly FlagSpec[]): string {
  const rows = specs.map((s) => {
    const names = `${s.short ? `-${s.short}, ` : '    '}--${s.name}${s.type === 'bool' ? '' : ` ${s.value ?? 'VALUE'}`}`;
    return [names, s.help + (s.type === 'list' ? ' (repeatable)' : '')] as const;
  });
  const width = Math.max(0, ...rows.map(([n]) => n.length));
  return rows.map(([n, h]) => `  ${n.padEnd(width)}  ${h}`).join('\n');
}
