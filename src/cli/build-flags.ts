// The key=value flags of `build` and `parse` in docker's loose forms, as
// buildx reads them (util/buildflags, commands/build.go listToMap):
// - `--build-arg NAME` takes NAME's value from the environment when it is
//   set (even to ""), and is dropped when it is not, so the ARG keeps its
//   default;
// - `--label NAME` is a label with an empty value;
// - `--secret id=X[,src=PATH|,env=VAR][,type=file|env]`: with neither src
//   nor env, X is read from the environment variable X if it is set, else
//   from the file X (buildkit's secretsprovider.NewStore). Values are read
//   here, once, so a build sees the environment of the command line.
// Pure functions of their inputs (the environment is a parameter), so unit
// tests cover every form.
import { closeSync, openSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { describeErrno, usageError } from '../errors.js';
import type { SecretSource } from '../build/executor/build-context.js';

/** BuildKit's limit for one secret (secretsprovider.MaxSecretSize). */
export const MAX_SECRET_SIZE = 500 * 1024;

function splitKey(item: string, flag: string): [string, string | undefined] {
  const eq = item.indexOf('=');
  if (eq === 0 || item === '') throw usageError(`invalid ${flag} "${item}": the name is empty`);
  return eq < 0 ? [item, undefined] : [item.slice(0, eq), item.slice(eq + 1)];
}

/** `K=V` sets K; a bare `K` takes K from the environment if set and is left out if not. */
export function parseBuildArgs(items: readonly string[], env: NodeJS.ProcessEnv = process.env): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of items) {
    const [k, v] = splitKey(item, '--build-arg');
    const value = v ?? env[k];
    if (value !== undefined) out.set(k, value);
  }
  return out;
}

/** `K=V` sets label K; a bare `K` is a label with an empty value (docker and buildah). */
export function parseLabels(items: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of items) {
    const [k, v] = splitKey(item, '--label');
    out.set(k, v ?? '');
  }
  return out;
}

/** One `--secret` spec → its id and where its value comes from. Files are checked now, read at RUN. */
export function parseSecret(spec: string, env: NodeJS.ProcessEnv = process.env): [string, SecretSource] {
  const bad = (why: string): never => { throw usageError(`invalid --secret "${spec}": ${why}`); };
  let id: string | undefined;
  let src: string | undefined;
  let envName: string | undefined;
  let type: string | undefined;
  for (const field of spec.split(',')) {
    const eq = field.indexOf('=');
    if (eq < 0) bad(`field "${field}" must be a key=value pair`);
    const key = field.slice(0, eq).toLowerCase();
    const value = field.slice(eq + 1);
    if (key === 'id') id = value;
    else if (key === 'src' || key === 'source') src = value;
    else if (key === 'env') envName = value;
    else if (key === 'type') type = value === 'file' || value === 'env' ? value : bad(`unsupported secret type "${value}" (file or env)`);
    else bad(`unknown key "${key}" (id, src, env or type)`);
  }
  // buildx: `type=env,src=VAR` names the variable in src.
  if (type === 'env' && envName === undefined) [envName, src] = [src, undefined];
  if (!id) return bad('the secret needs id=ID');
  if (src !== undefined && envName !== undefined) bad('give src= or env=, not both');
  if (src === undefined && envName === undefined) {
    if (env[id] !== undefined) envName = id;
    else src = id;
  }
  if (envName !== undefined) {
    const value = env[envName];
    if (value === undefined) throw usageError(`--secret ${id}: the environment variable ${envName} is not set`);
    if (Buffer.byteLength(value) > MAX_SECRET_SIZE) throw usageError(`--secret ${id}: too big (the limit is 500KB)`);
    return [id, { kind: 'value', value: Buffer.from(value) }];
  }
  const path = resolve(src as string);
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw usageError(`--secret ${id}: ${src} is not a regular file`);
    size = st.size;
    closeSync(openSync(path, 'r')); // readable now, not only at the RUN that mounts it
  } catch (err) {
    if ((err as { code?: string }).code === 'E_USAGE') throw err;
    throw usageError(`--secret ${id}: cannot read ${src}: ${describeErrno(err)}`);
  }
  if (size > MAX_SECRET_SIZE) throw usageError(`--secret ${id}: ${src} is too big (the limit is 500KB)`);
  return [id, { kind: 'file', path }];
}
