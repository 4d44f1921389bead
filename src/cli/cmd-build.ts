// `tsbuild build` (and `tsbuild -f FILE -t NAME CONTEXT`): build an image
// from a Containerfile. Progress goes to stderr; the image ID to stdout.
import { statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { formatFlagHelp, parseArgs, type FlagSpec } from './args.js';
import type { CliContext } from './context.js';
import { usageError } from '../errors.js';
import { parseLimits } from '../run/limits.js';
import { reapStale } from '../run/reaper.js';
import { parseAllow, parseSecurityOpts } from '../run/security.js';

const flags: FlagSpec[] = [
  { name: 'file', short: 'f', type: 'string', help: 'Containerfile (default CONTEXT/Containerfile, then CONTEXT/Dockerfile)', value: 'FILE' },
  { name: 'tag', short: 't', type: 'list', help: 'name the image', value: 'NAME[:TAG]' },
  { name: 'build-arg', type: 'list', help: 'set a build argument declared with ARG', value: 'K=V' },
  { name: 'target', type: 'string', help: 'build up to this stage', value: 'STAGE' },
  { name: 'no-cache', type: 'bool', help: 'do not use cached steps' },
  { name: 'pull', type: 'bool', help: 'always pull base images' },
  { name: 'label', type: 'list', help: 'add a label to the image', value: 'K=V' },
  { name: 'network', type: 'string', help: 'network for RUN steps: host (default) or none', value: 'MODE' },
  { name: 'progress', type: 'string', help: 'auto, tty, plain or json', value: 'MODE' },
  { name: 'push', type: 'bool', help: 'push the tags after building' },
  { name: 'output', short: 'o', type: 'string', help: 'also export the image: type=oci-dir|oci-archive|docker-archive,dest=PATH', value: 'SPEC' },
  { name: 'secret', type: 'list', help: 'a secret for RUN --mount=type=secret', value: 'id=ID,src=PATH' },
  { name: 'tls-verify', type: 'bool', help: 'verify registry TLS certificates (default true)' },
  { name: 'cpu-period', type: 'string', help: 'CPU CFS period for RUN steps', value: 'N' },
  { name: 'cpu-quota', type: 'string', help: 'CPU CFS quota for RUN steps', value: 'N' },
  { name: 'cpus', type: 'string', help: 'CPUs for RUN steps', value: 'F' },
  { name: 'memory', short: 'm', type: 'string', help: 'memory limit for RUN steps', value: 'SIZE' },
  { name: 'security-opt', type: 'list', help: 'seccomp=unconfined or seccomp=PROFILE.json for RUN steps', value: 'OPT' },
  { name: 'allow', type: 'list', help: 'grant an entitlement: security.insecure (for RUN --security=insecure)', value: 'ENTITLEMENT' },
  { name: 'check', type: 'bool', help: 'only parse and validate the Containerfile' },
  { name: 'help', type: 'bool', help: 'show this help' },
];

const usage = `Usage: tsbuild build [OPTIONS] CONTEXT
       tsbuild -f FILE -t NAME[:TAG] CONTEXT

Build an image from a Containerfile. Prints the image ID on stdout.

Options:
${formatFlagHelp(flags)}
`;

function keyValues(list: readonly string[], flag: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const kv of list) {
    const eq = kv.indexOf('=');
    if (eq <= 0) {
      // `--build-arg NAME` takes the value from the environment, as docker does.
      const v = flag === '--build-arg' && eq < 0 ? process.env[kv] : undefined;
      if (v === undefined) throw usageError(`invalid ${flag} "${kv}": expected KEY=VALUE`);
      m.set(kv, v);
      continue;
    }
    m.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  return m;
}

function parseSecret(spec: string): [string, string] {
  const fields = new Map(spec.split(',').map((f) => { const i = f.indexOf('='); return [f.slice(0, i), f.slice(i + 1)] as [string, string]; }));
  const id = fields.get('id');
  const src = fields.get('src') ?? fields.get('source');
  if (!id || !src) throw usageError(`invalid --secret "${spec}": expected id=ID,src=PATH`);
  try { statSync(src); } catch { throw usageError(`--secret ${id}: cannot read ${src}`); }
  return [id, resolve(src)];
}

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
  const contextDir = resolve(a.positionals[0] as string);
  try {
    if (!statSync(contextDir).isDirectory()) throw new Error();
  } catch {
    throw usageError(`the build context ${a.positionals[0]} is not a directory`);
  }
  const { findContainerfile } = await import('../build/instructions/frontend.js');
  const file = a.strings.get('file') ?? (await findContainerfile(a.positionals[0] as string));
  const buildArgs = keyValues(a.lists.get('build-arg') ?? [], '--build-arg');
  const target = a.strings.get('target');
  if (a.bools.get('check')) {
    const { checkContainerfile } = await import('../build/instructions/frontend.js');
    await checkContainerfile(file, { buildArgs, ...(target !== undefined ? { target } : {}) });
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

  reapStale(ctx.root);
  const { build } = await import('../build/executor/build.js');
  const mode = progress === 'auto' ? (process.stderr.isTTY ? 'tty' : 'plain') : (progress as 'tty' | 'plain' | 'json');
  const result = await build({
    root: ctx.root,
    contextDir,
    containerfile: resolve(file),
    // Errors name the file as the user gave it, or just its name when found in the context (as docker).
    displayFile: a.strings.get('file') ?? basename(file),
    tags,
    buildArgs,
    ...(target !== undefined ? { target } : {}),
    noCache: a.bools.get('no-cache') ?? false,
    pull: a.bools.get('pull') ?? false,
    labels: keyValues(a.lists.get('label') ?? [], '--label'),
    network,
    limits,
    secrets: new Map((a.lists.get('secret') ?? []).map(parseSecret)),
    security,
    allowInsecure: allow.insecure,
    ...(tlsVerify === false ? { tlsVerify } : {}),
    log: ctx.log,
  }, mode);
  if (out) {
    const { openStore } = await import('../store/index.js');
    const { saveImages } = await import('../image/archive/save.js');
    const store = await openStore(ctx.root);
    try { await saveImages(store, [result.imageId], out.format, out.dest); } finally { await store.close(); }
  }
  if (a.bools.get('push')) {
    const { openStore } = await import('../store/index.js');
    const { push } = await import('../registry/index.js');
    const store = await openStore(ctx.root);
    try {
      for (const t of tags) await push(store, t, undefined, tlsVerify === false ? { tlsVerify: false } : {});
    } finally { await store.close(); }
  }
  ctx.stdout.write(`${result.imageId}\n`);
  return 0;
}
