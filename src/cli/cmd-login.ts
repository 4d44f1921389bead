// `tsbuild login REGISTRY -u USER --password-stdin`: check the credentials
// against the registry (GET /v2/ through its auth flow) and only then save
// them where podman would (REGISTRY_AUTH_FILE, the runtime dir, ~/.config).
import { formatFlagHelp, parseArgs, type FlagSpec } from './args.js';
import type { CliContext } from './context.js';
import { registryFlags, registryOptions } from './registry-flags.js';
import { TsbuildError, usageError } from '../errors.js';
import { saveCredentials } from '../registry/credentials.js';
import { RegistryClient } from '../registry/http.js';
import { normaliseRegistry } from '../reference/index.js';

const flags: FlagSpec[] = [
  { name: 'username', short: 'u', type: 'string', help: 'user name', value: 'USER' },
  { name: 'password', short: 'p', type: 'string', help: 'password (visible to other users: prefer --password-stdin)', value: 'PASSWORD' },
  { name: 'password-stdin', type: 'bool', help: 'read the password from stdin' },
  { name: 'authfile', type: 'string', help: 'write credentials to FILE (default $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json)', value: 'FILE' },
  ...registryFlags,
  { name: 'help', type: 'bool', help: 'show this help' },
];

const usage = `Usage: tsbuild login [OPTIONS] REGISTRY

Log in to a registry: the credentials are checked, then saved in auth.json.

${formatFlagHelp(flags)}
`;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function run(ctx: CliContext, argv: string[]): Promise<number> {
  const a = parseArgs(argv, flags);
  if (a.bools.get('help')) { process.stdout.write(usage); return 0; }
  if (a.positionals.length !== 1) throw usageError(`"tsbuild login" requires exactly one REGISTRY (see tsbuild login --help)`);
  const registry = normaliseRegistry(a.positionals[0] as string);
  const username = a.strings.get('username');
  if (!username) throw usageError('tsbuild login needs -u USER');
  let password = a.strings.get('password');
  if (a.bools.get('password-stdin')) {
    if (password !== undefined) throw usageError('--password and --password-stdin are mutually exclusive');
    // Like docker, drop the trailing newline that `echo pw |` adds.
    password = (await readStdin()).replace(/\r?\n$/, '');
  } else if (password !== undefined) {
    ctx.log.warn('using --password on the command line is insecure; use --password-stdin');
  }
  if (!password) throw usageError('tsbuild login needs a password: --password-stdin');

  const client = new RegistryClient(registry, { credentials: { username, password }, ...registryOptions(a), log: ctx.log, retries: 2 });
  try {
    const res = await client.request({ path: '/v2/', what: `login to ${registry}` });
    await res.arrayBuffer();
  } catch (err) {
    if (err instanceof TsbuildError && err.code === 'E_UNAUTHORIZED') {
      throw new TsbuildError('E_UNAUTHORIZED', `login to ${registry} failed: invalid username or password`);
    }
    throw err;
  } finally {
    client.close();
  }
  const authfile = a.strings.get('authfile');
  const env = authfile ? { ...process.env, REGISTRY_AUTH_FILE: authfile } : process.env;
  const path = await saveCredentials(registry, username, password, { env });
  ctx.log.debug(`credentials saved in ${path}`);
  ctx.stdout.write('Login Succeeded!\n');
  return 0;
}
