// `tsbuild build` (and `tsbuild -f FILE -t NAME CONTEXT`): build an image
// from a Containerfile. Progress goes to stderr; the image ID to stdout.
import { resolve } from 'node:path';
import { formatFlagHelp, parseArgs, type FlagSpec, type ParsedArgs } from './args.js';
import { parseBuildArgs, parseLabels, parseSecret } from './build-flags.js';
import { readBuildInput, type BuildInput } from './build-input.js';
import type { SecretSource } from '../build/executor/build-context.js';
import type { CliContext } from './context.js';
import { usageError } from '../errors.js';
import { parseLimits } from '../run/limits.js';
import { reapStale } from '../run/reaper.js';
import { parseAllow, parseSecurityOpts } from '../run/security.js';

const flags: FlagSpec[] = [
  { name: 'file', short: 'f', type: 'string', help: 'Containerfile (default CONTEXT/Containerfile, then CONTEXT/Dockerfile)', value: 'FILE' },
  { name: 'tag', short: 't', type: 'list', help: 'name the image', value: 'NAME[:TAG]' },
  { name: 'build-arg', type: 'list', help: 'set a build argument declared with ARG (a bare K: from the environment)', value: 'K[=V]' },
  { name: 'target', type: 'string', help: 'build up to this stage', value: 'STAGE' },
  { name: 'no-cache', type: 'bool', help: 'do not use cached steps' },
  { name: 'pull', type: 'bool', help: 'always pull base images' },
  { name: 'label', type: 'list', help: 'add a label to the image (a bare K: an empty value)', value: 'K[=V]' },
  { name: 'network', type: 'string', help: 'network for RUN steps: host (default) or none', value: 'MODE' },
  { name: 'progress', type: 'string', help: 'auto, tty, plain or json', value: 'MODE' },
  { name: 'push', type: 'bool', help: 'push the tags after building' },
  { name: 'platform', type: 'string', help: 'build for these platforms; more than one makes an image index under the tags', value: 'OS/ARCH[/VARIANT][,...]' },
  { name: 'output', short: 'o', type: 'string', help: 'also export the image: type=oci-dir|oci-archive|docker-archive,dest=PATH', value: 'SPEC' },
  { name: 'secret', type: 'list', help: 'a secret for RUN --mount=type=secret (id=ID alone: env ID if set, else file ID)', value: 'id=ID[,src=PATH|env=VAR]' },
  { name: 'tls-verify', type: 'bool', help: 'verify registry TLS certificates (default true)' },
  { name: 'cpu-period', type: 'string', help: 'CPU CFS period for RUN steps', value: 'N' },
  { name: 'cpu-quota', type: 'string', help: 'CPU CFS quota for RUN steps', value: 'N' },
  { name: 'cpus', type: 'string', help: 'CPUs for RUN steps', value: 'F' },
  { name: 'memory', short: 'm', type: 'string', help: 'memory limit for RUN steps', value: 'SIZE' },
  { name: 'security-opt', type: 'list', help: 'seccomp=unconfined or seccomp=PROFILE.json for RUN steps', value: 'OPT' },
  { name: 'allow', type: 'list', help: 'grant an entitlement: security.insecure (for RUN --security=insecure)', value: 'ENTITLEMENT' },
  { name: 'check', type: 'bool', help: 'only parse and validate the Containerfile' },
  { name: 'source-date-epoch', type: 'string', help: 'image times, and the latest mtime in new layers, in seconds (default $SOURCE_DATE_EPOCH, else the git HEAD commit time; "now": neither)', value: 'N' },
  { name: 'iidfile', type: 'string', help: 'write the image ID to FILE', value: 'FILE' },
  { name: 'cache-from', type: 'list', help: 'use a build cache: REPO (buildah), type=registry,ref=REF or type=local,src=DIR; repeatable, first hit wins', value: 'SPEC' },
  { name: 'cache-to', type: 'list', help: 'export the build cache: REPO (buildah), type=registry,ref=REF or type=local,dest=DIR [,mode=min|max][,ignore-error=true]', value: 'SPEC' },
  { name: 'metadata-file', type: 'string', help: 'write build metadata (JSON, buildx keys) to FILE', value: 'FILE' },
  { name: 'help', type: 'bool', help: 'show this help' },
];

const usage = `Usage: tsbuild build [OPTIONS] CONTEXT
       tsbuild -f FILE -t NAME[:TAG] CONTEXT
       tsbuild build [OPTIONS] - < CONTEXT.tar[.gz|.bz2|.xz|.zst]    (or - < Containerfile: no context)
       tsbuild build [OPTIONS] -f - CONTEXT < Containerfile

Build an image from a Containerfile. Prints the image ID on stdout.

Options:
${formatFlagHelp(flags)}
`;

export function parseOutput(spec: string): { format: 'oci-dir' | 'oci-archive' | 'docker-archive'; dest: string } {
  const fields = new Map(spec.split(',').map((f) => { const i = f.indexOf('='); return [f.slice(0, i), f.slice(i + 1)] as [string, string]; }));
  const type = fields.get('type');
  const dest = fields.get('dest');
  if ((type !== 'oci-dir' && type !== 'oci-archive' && type !== 'docker-archive') || !dest) {
    throw usageError(`invalid --output "${spec}": expected type=oci-dir|oci-archive|docker-archive,dest=PATH`);
  }
  return { format: type, dest: resolve(dest) };
}

export async function run(ctx: CliContext, argv: string[]): Promise<number> {
  const a = parseArgs(argv, flags);
  if (a.bools.get('help')) { process.stdout.write(usage); return 0; }
  if (a.positionals.length !== 1) throw usageError(`"tsbuild build" requires exactly 1 argument: the build context (got ${a.positionals.length})`);
  const buildArgs = parseBuildArgs(a.lists.get('build-arg') ?? []);
  const labels = parseLabels(a.lists.get('label') ?? []);
  const secrets = new Map((a.lists.get('secret') ?? []).map((s) => parseSecret(s)));
  const target = a.strings.get('target');
  const input = await readBuildInput(ctx, a.positionals[0] as string, a.strings.get('file'));
  try {
    return await buildFrom(ctx, a, input, { buildArgs, labels, secrets, target });
  } finally {
    input.dispose();
  }
}

interface BuildValues {
  buildArgs: Map<string, string>;
  labels: Map<string, string>;
  secrets: Map<string, SecretSource>;
  target: string | undefined;
}

async function buildFrom(ctx: CliContext, a: ParsedArgs, input: BuildInput, { buildArgs, labels, secrets, target }: BuildValues): Promise<number> {
  if (a.bools.get('check')) {
    const { checkContainerfile, checkContainerfileText } = await import('../build/instructions/frontend.js');
    const { undeclaredWarning } = await import('../build/instructions/args.js');
    const opts = { file: input.displayFile, buildArgs, ...(target !== undefined ? { target } : {}) };
    const checked = input.containerfileText !== undefined ? checkContainerfileText(input.containerfileText, opts) : await checkContainerfile(input.containerfile, opts);
    if (checked.plan.undeclaredArgs.length > 0) ctx.log.warn(undeclaredWarning(checked.plan.undeclaredArgs));
    return 0;
  }
  const network = a.strings.get('network') ?? 'host';
  if (network !== 'host' && network !== 'none') throw usageError(`invalid --network "${network}": expected host or none`);
  const progress = a.strings.get('progress') ?? 'auto';
  if (!['auto', 'tty', 'plain', 'json'].includes(progress)) throw usageError(`invalid --progress "${progress}": expected auto, tty, plain or json`);
  const output = a.strings.get('output');
  const out = output === undefined ? undefined : parseOutput(output);
  const tags = a.lists.get('tag') ?? [];
  if (a.bools.get('push') && tags.length === 0) throw usageError('--push needs at least one -t NAME');
  const limits = parseLimits({ memory: a.strings.get('memory'), cpus: a.strings.get('cpus'), cpuPeriod: a.strings.get('cpu-period'), cpuQuota: a.strings.get('cpu-quota') });
  const tlsVerify = a.bools.get('tls-verify');
  const security = parseSecurityOpts(a.lists.get('security-opt') ?? [], ctx.root);
  const allow = parseAllow(a.lists.get('allow') ?? []);
  const { parseCacheFrom, parseCacheTo } = await import('../build/cache/spec.js');
  const cacheFrom = (a.lists.get('cache-from') ?? []).map(parseCacheFrom);
  const cacheTo = (a.lists.get('cache-to') ?? []).map(parseCacheTo);

  const { EPOCH_ARG, resolveSourceDateEpoch } = await import('../build/context/index.js');
  const epoch = resolveSourceDateEpoch({ flag: a.strings.get('source-date-epoch'), buildArgs, env: process.env, contextDir: input.contextDir });
  // An `ARG SOURCE_DATE_EPOCH` sees the epoch the build uses, as buildx passes the environment's on.
  if (epoch && !buildArgs.has(EPOCH_ARG)) buildArgs.set(EPOCH_ARG, String(epoch.seconds));

  const outputs = { iidfile: a.strings.get('iidfile'), metadataFile: a.strings.get('metadata-file') };
  const { clearBuildOutputs, writeBuildOutputs } = await import('./build-metadata.js');
  clearBuildOutputs(outputs);

  reapStale(ctx.root);
  const { build } = await import('../build/executor/build.js');
  const mode = progress === 'auto' ? (process.stderr.isTTY ? 'tty' : 'plain') : (progress as 'tty' | 'plain' | 'json');
  const platformFlag = a.strings.get('platform');
  const { parsePlatformList, canonicalPlatform, buildPlatform } = await import('../image/platform.js');
  const platforms = platformFlag === undefined ? [] : parsePlatformList(platformFlag);
  const buildOpts: import('../build/executor/build-context.js').BuildOptions = {
    root: ctx.root,
    contextDir: input.contextDir,
    containerfile: input.containerfile,
    ...(input.containerfileText !== undefined ? { containerfileText: input.containerfileText } : {}),
    ...(input.noContext ? { noContext: true } : {}),
    ...(input.contextIsTar ? { contextIsTar: true } : {}),
    displayFile: input.displayFile,
    tags,
    buildArgs,
    ...(target !== undefined ? { target } : {}),
    noCache: a.bools.get('no-cache') ?? false,
    pull: a.bools.get('pull') ?? false,
    labels,
    network: network as 'host' | 'none',
    limits,
    secrets,
    security,
    allowInsecure: allow.insecure,
    ...(tlsVerify === false ? { tlsVerify } : {}),
    ...(epoch ? { epoch } : {}),
    log: ctx.log,
    cacheFrom,
    cacheTo,
    ...(platforms.length === 1 ? { platform: { target: canonicalPlatform(platforms[0] as (typeof platforms)[0]), build: buildPlatform() } } : {}),
  };
  if (platforms.length > 1) {
    if (out) throw usageError('--output with several --platform values is not supported yet');
    return buildIndex(ctx, buildOpts, mode, platforms, { push: a.bools.get('push') ?? false, tlsVerify, outputs, epoch });
  }
  const result = await build(buildOpts, mode);
  // The tags name this image now, not an index that had them.
  const { removeIndexRecord } = await import('../store/index-records.js');
  for (const t of tags) removeIndexRecord(ctx.root, t);
  if (out) {
    const { openStore } = await import('../store/index.js');
    const { saveImages } = await import('../image/archive/save.js');
    const store = await openStore(ctx.root);
    try { await saveImages(store, [result.imageId], out.format, out.dest); } finally { await store.close(); }
  }
  const pushed: { reference: string; digest: string }[] = [];
  if (a.bools.get('push')) {
    const { openStore } = await import('../store/index.js');
    const { push } = await import('../registry/index.js');
    const { transferProgress } = await import('../build/executor/transfer-progress.js');
    const store = await openStore(ctx.root);
    try {
      for (const t of tags) {
        const { tryParseReference } = await import('../registry/index.js');
        const host = tryParseReference(t)?.registry;
        // A fully cached build's layers may sit only in the cache repository: mount them from there.
        const mountFrom = result.cacheRepositories.filter((r) => r.host === host).map((r) => r.repository);
        const progress = transferProgress(mode, 'push', t);
        const p = await push(store, t, undefined, { mountFrom, progress, ...(tlsVerify === false ? { tlsVerify: false } : {}) });
        pushed.push({ reference: p.reference.toString(), digest: p.digest });
      }
    } finally { await store.close(); }
  }
  writeBuildOutputs(outputs, result, pushed, epoch);
  ctx.stdout.write(`${result.imageId}\n`);
  return 0;
}

/** Several platforms: one image each, an index under the tags, pushed as one. */
async function buildIndex(
  ctx: CliContext, opts: Parameters<typeof import('../build/executor/multi-platform.js').buildPlatforms>[0], mode: 'tty' | 'plain' | 'json',
  platforms: import('../image/oci.js').Platform[], o: { push: boolean; tlsVerify: boolean | undefined; outputs: { iidfile: string | undefined; metadataFile: string | undefined }; epoch: unknown },
): Promise<number> {
  const { buildPlatforms } = await import('../build/executor/multi-platform.js');
  const { MediaType } = await import('../image/oci.js');
  const r = await buildPlatforms(opts, mode, platforms);
  const pushed: { reference: string; digest: string }[] = [];
  if (o.push) {
    const { openStore } = await import('../store/index.js');
    const { pushIndex } = await import('../registry/push-index.js');
    const store = await openStore(ctx.root);
    try {
      for (const t of opts.tags) {
        const p = await pushIndex(store, r.indexJson, MediaType.ociIndex, t, o.tlsVerify === false ? { tlsVerify: false } : {});
        pushed.push({ reference: p.reference.toString(), digest: p.digest });
      }
    } finally { await store.close(); }
  }
  const { writeBuildOutputs } = await import('./build-metadata.js');
  const first = r.images[0] as (typeof r.images)[0];
  writeBuildOutputs(o.outputs, { ...first, imageId: r.indexDigest, manifestDigest: r.indexDigest, manifestSize: r.indexJson.length, manifestMediaType: MediaType.ociIndex, tags: opts.tags }, pushed, o.epoch as Parameters<typeof writeBuildOutputs>[3]);
  ctx.stdout.write(`${r.indexDigest}\n`);
  return 0;
}
