// `tsbuild parse`: parse and validate a Containerfile without running
// anything: syntax, instructions and flags, ARG and build-arg rules, stage
// names and references, and `--target`. Silent on success (exit 0); with
// `--format json` it prints the stages the target needs. Errors are thrown as
// located TsbuildErrors, which main.ts prints as `tsbuild: <what> (<file>:<line>)`.
import { type FlagSpec, formatFlagHelp, parseArgs } from './args.js';
import type { CliContext } from './context.js';
import { usageError } from '../errors.js';
import { checkContainerfile, findContainerfile, type CheckResult } from '../build/instructions/frontend.js';

export { checkContainerfile } from '../build/instructions/frontend.js';

const specs: FlagSpec[] = [
  { name: 'file', short: 'f', type: 'string', value: 'FILE', help: 'Containerfile to parse (default CONTEXT/Containerfile, then CONTEXT/Dockerfile)' },
  { name: 'build-arg', type: 'list', value: 'K=V', help: 'set a build argument' },
  { name: 'target', type: 'string', value: 'STAGE', help: 'check only the stages this stage needs' },
  { name: 'format', type: 'string', value: 'FORMAT', help: 'json: print the parsed stages on stdout' },
  { name: 'help', short: 'h', type: 'bool', help: 'show this help' },
];

const usage = `Usage: tsbuild parse [-f FILE] [--build-arg K=V]... [--target STAGE] [--format json] [CONTEXT]

Parse and validate a Containerfile without running it. Prints nothing and
exits 0 when the file is valid.

Options:
${formatFlagHelp(specs)}
`;

export async function run(ctx: CliContext, argv: string[]): Promise<number> {
  const args = parseArgs(argv, specs);
  if (args.bools.get('help')) {
    ctx.stdout.write(usage);
    return 0;
  }
  if (args.positionals.length > 1) throw usageError(`parse takes at most one CONTEXT, got ${args.positionals.length}`);
  const format = args.strings.get('format');
  if (format !== undefined && format !== 'json') throw usageError(`invalid --format "${format}": only json is supported`);
  const context = args.positionals[0] ?? '.';
  const path = args.strings.get('file') ?? (await findContainerfile(context));
  const result = await checkContainerfile(path, {
    buildArgs: parseBuildArgs(args.lists.get('build-arg') ?? []),
    target: args.strings.get('target'),
  });
  for (const warning of result.containerfile.warnings) ctx.log.warn(warning);
  if (format === 'json') ctx.stdout.write(`${JSON.stringify(toJson(result), null, 2)}\n`);
  return 0;
}

/** `K=V` sets K; a bare `K` takes K from the environment if set, as docker does. */
export function parseBuildArgs(items: readonly string[], env: NodeJS.ProcessEnv = process.env): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq === 0) throw usageError(`invalid --build-arg "${item}": the name is empty`);
    if (eq > 0) out.set(item.slice(0, eq), item.slice(eq + 1));
    else if (env[item] !== undefined) out.set(item, env[item] as string);
  }
  return out;
}

function toJson({ containerfile, plan }: CheckResult): unknown {
  return {
    file: containerfile.file,
    directives: containerfile.directives,
    escapeToken: containerfile.escapeToken,
    globalArgs: containerfile.globalArgs,
    target: plan.target,
    stages: plan.stages.map((s) => ({
      index: s.index,
      name: s.name,
      base: s.base,
      platform: s.platform,
      dependsOn: s.dependsOn,
      from: s.stage.from,
      instructions: s.stage.instructions,
    })),
  };
}
