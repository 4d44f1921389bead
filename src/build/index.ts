// The build front end's public API, for the build engine and the CLI.
// Three stages as in buildkit: parser (text → AST with line ranges),
// instructions (AST → typed stages), and expansion (typed instruction + build
// args + environment → expanded instruction), plus the stage graph.
export type { AstNode, Heredoc, ParsedContainerfile } from './parser/ast.js';
export { parseContainerfile } from './parser/parser.js';
export { dumpAst } from './parser/dump.js';
export { expandWord, processWord, processWords, referencedNames, type Env, type LexOptions, type WordExpansion } from './shell/lex.js';
export type * from './instructions/types.js';
export { buildContainerfile, parseStages, type Containerfile, type Stage } from './instructions/stages.js';
export { parseInstruction, INSTRUCTION_NAMES } from './instructions/parse.js';
export { runScript, type RunScript } from './instructions/run.js';
export { parsePortSpec } from './instructions/ports.js';
export {
  declaredArgNames, undeclaredBuildArgs, undeclaredWarning, DEFAULT_PLATFORM, PLATFORM_ARGS, PROXY_ARGS, platformArgs, proxyArgs,
  resolveGlobalScope, type Platform,
} from './instructions/args.js';
export { expandInstruction, expandStage, type ExpandedStep, type ExpandOptions, type StageExpandContext } from './instructions/expand.js';
export { planBuild, resolveSource, type BuildPlan, type PlannedStage, type PlanOptions, type SourceRef, type StageBase } from './instructions/graph.js';
export {
  checkContainerfile, checkContainerfileText, findContainerfile, readContainerfile, type CheckOptions, type CheckResult,
} from './instructions/frontend.js';
