// `tsbuild version` (buildah's and docker's spelling) and `tsbuild --version`:
// what is installed, for bug reports and for scripts that check it.
import { readFileSync } from 'node:fs';
import { formatFlagHelp, parseArgs, type FlagSpec } from './args.js';
import type { CliContext } from './context.js';
import { usageError } from '../errors.js';

const flags: FlagSpec[] = [{ name: 'help', type: 'bool', help: 'show this help' }];

/** The package's version: package.json two levels above this module (dist/bundle/ or dist/cli/). */
export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** `tsbuild --version`'s one line, as `buildah --version` prints it. */
export function versionLine(): string {
  return `tsbuild version ${packageVersion()}\n`;
}

const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

export async function run(ctx: CliContext, argv: string[]): Promise<number> {
  const a = parseArgs(argv, flags);
  if (a.bools.get('help')) { ctx.stdout.write(`Usage: tsbuild version\n\nPrint tsbuild's version.\n\n${formatFlagHelp(flags)}\n`); return 0; }
  if (a.positionals.length > 0) throw usageError(`"tsbuild version" accepts no arguments (got ${a.positionals[0]})`);
  const rows: [string, string][] = [
    ['Version', packageVersion()],
    ['Node Version', process.version],
    ['Image Spec', '1.1.0'],
    ['Runtime Spec', '1.0.2'],
    ['OS/Arch', `linux/${ARCH[process.arch] ?? process.arch}`],
  ];
  ctx.stdout.write(rows.map(([k, v]) => `${`${k}:`.padEnd(16)}${v}`).join('\n') + '\n');
  return 0;
}
