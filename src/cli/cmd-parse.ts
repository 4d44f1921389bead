// `tsbuild parse`: parse and validate a Containerfile without running
// anything: syntax, instructions and flags, ARG rules (an undeclared build arg is a warning), stage
// names and references, and `--target`. Silent on success (exit 0); with
// `--format json` it prints the stages the target needs. Errors are thrown as
// located TsbuildErrors, which main.ts prints as `tsbuild: <what> (<file>:<line>)`.
import { type FlagSpec, formatFlagHelp, parseArgs } from './args.js';
import type { CliContext } from './context.js';
import { usageError } from '../errors.js';
import { checkContainerfile, findContainerfile, type CheckResult } from '../build/instructions/frontend.js';
import { undeclaredWarning } from '../build/instructions/args.js';
import { parseBuildArgs } from './build-flags.js';

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
  if (result.plan.undeclaredArgs.length > 0) ctx.log.warn(undeclaredWarning(result.plan.undeclaredArgs));
  if (format === 'json') ctx.stdout.write(`${JSON.stringify(toJson(result), null, 2)}\n`);
  return 0;
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
