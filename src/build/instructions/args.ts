// ARG scoping and build arguments, as docker and buildah define them:
// - global ARGs (before the first FROM) are visible to FROM lines only;
//   a stage sees one after re-declaring it (`ARG NAME` takes the global value);
// - `--build-arg NAME=V` overrides a declared default;
// - platform ARGs (TARGETARCH, BUILDPLATFORM, …) are predefined in the global
//   scope and inside a stage after `ARG TARGETARCH`;
// - proxy ARGs (HTTP_PROXY, …) may be passed without any declaration and
//   reach RUN steps only;
// - any other build arg that no ARG declares is ignored with a warning, as
//   docker, BuildKit and buildah do.
import { atLine } from '../parser/located-error.js';
import { processWord } from '../shell/lex.js';
import type { Containerfile } from './stages.js';
import type { ArgDeclaration } from './types.js';

export const PROXY_ARGS: readonly string[] = [
  'HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy',
  'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy',
];

export const PLATFORM_ARGS: readonly string[] = [
  'TARGETPLATFORM', 'TARGETOS', 'TARGETARCH', 'TARGETVARIANT', 'BUILDPLATFORM', 'BUILDOS', 'BUILDARCH', 'BUILDVARIANT',
];

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** tsbuild builds linux/amd64 images on linux/amd64 hosts. */
export const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/** The values of the predefined platform ARGs. */
export function platformArgs(target: Platform = DEFAULT_PLATFORM, build: Platform = DEFAULT_PLATFORM): Map<string, string> {
  return new Map([
    ['TARGETPLATFORM', formatPlatform(target)], ['TARGETOS', target.os], ['TARGETARCH', target.architecture],
    ['TARGETVARIANT', target.variant ?? ''], ['BUILDPLATFORM', formatPlatform(build)], ['BUILDOS', build.os],
    ['BUILDARCH', build.architecture], ['BUILDVARIANT', build.variant ?? ''],
  ]);
}

/** Every name some ARG declares, globally or in any stage. */
export function declaredArgNames(cf: Containerfile): Set<string> {
  const names = new Set<string>();
  for (const arg of cf.globalArgs) for (const d of arg.args) names.add(d.name);
  for (const stage of cf.stages) {
    for (const i of stage.instructions) if (i.kind === 'arg') for (const d of i.args) names.add(d.name);
  }
  return names;
}

/**
 * The build args no ARG declares (predefined ones never count). docker,
 * BuildKit and buildah all warn about these and build on; the caller warns.
 */
export function undeclaredBuildArgs(cf: Containerfile, buildArgs: ReadonlyMap<string, string>): string[] {
  const declared = declaredArgNames(cf);
  // SOURCE_DATE_EPOCH is tsbuild's own input too (the image times), and is passed on whether or not an ARG reads it, as BuildKit does.
  return [...buildArgs.keys()].filter((k) => !declared.has(k) && !PROXY_ARGS.includes(k) && !PLATFORM_ARGS.includes(k) && k !== 'SOURCE_DATE_EPOCH');
}

/** The warning for undeclared build args, in buildah's words. */
export function undeclaredWarning(names: readonly string[]): string {
  return `one or more build args were not consumed: [${names.join(' ')}]`;
}

/** The proxy build args given, which RUN steps receive without any ARG. */
export function proxyArgs(buildArgs: ReadonlyMap<string, string>): Map<string, string> {
  return new Map([...buildArgs].filter(([k]) => PROXY_ARGS.includes(k)));
}

export interface ArgScopeInputs {
  buildArgs: ReadonlyMap<string, string>;
  /** The resolved global scope (what `ARG NAME` without a default picks up). */
  globalScope: ReadonlyMap<string, string>;
}

/**
 * The value one ARG declaration gives its name: the build arg if passed, else
 * its default expanded with `vars`, else the global value; undefined if none.
 */
export function declaredValue(decl: ArgDeclaration, inputs: ArgScopeInputs, expand: (word: string) => string): string | undefined {
  const fromBuildArg = inputs.buildArgs.get(decl.name);
  if (fromBuildArg !== undefined) return fromBuildArg;
  if (decl.defaultValue !== null) return expand(decl.defaultValue);
  return inputs.globalScope.get(decl.name);
}

/** The global scope: platform ARGs, then each global ARG in order. */
export function resolveGlobalScope(
  cf: Containerfile,
  buildArgs: ReadonlyMap<string, string>,
  platform: { target?: Platform; build?: Platform } = {},
): Map<string, string> {
  const scope = platformArgs(platform.target, platform.build);
  for (const k of PLATFORM_ARGS) {
    const v = buildArgs.get(k);
    if (v !== undefined) scope.set(k, v);
  }
  for (const instruction of cf.globalArgs) {
    for (const decl of instruction.args) {
      const expand = (word: string): string =>
        atLine(cf.file, instruction.line, () => processWord(word, scope, { escapeToken: cf.escapeToken }));
      const value = declaredValue(decl, { buildArgs, globalScope: scope }, expand);
      if (value !== undefined) scope.set(decl.name, value);
    }
  }
  return scope;
}
