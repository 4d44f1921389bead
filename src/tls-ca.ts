// The user's extra TLS roots (NODE_EXTRA_CA_CERTS), read only when a
// command opens a TLS connection. bin/tsbuild.js moves the variable to
// TSBUILD_EXTRA_CA_CERTS before node starts, because node otherwise loads
// the file, and with it the whole system store, before any JavaScript runs
// (~100 ms of every command here). Node's own rule is kept: the file adds to
// the bundled roots, and a file that cannot be read is a warning, not an
// error. Under `node bin/tsbuild.js` node has loaded NODE_EXTRA_CA_CERTS
// itself, but only into its default store: an agent given its own `ca`
// (a certs.d directory) still needs them, so both names are read.
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';

let cached: string[] | undefined;

/** PEM text of the extra roots the user named (empty when none), read once per process. */
export function extraCaCerts(env: NodeJS.ProcessEnv = process.env, warn: (msg: string) => void = (m) => process.stderr.write(`tsbuild: warning: ${m}\n`)): string[] {
  if (cached && env === process.env) return cached;
  const files = [...new Set([env.TSBUILD_EXTRA_CA_CERTS, env.NODE_EXTRA_CA_CERTS].filter((f): f is string => !!f))];
  const pems: string[] = [];
  for (const file of files) {
    try {
      pems.push(readFileSync(file, 'utf8'));
    } catch (err) {
      warn(`ignoring extra CA certificates from ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  if (env === process.env) cached = pems;
  return pems;
}

/**
 * The `ca` option for a TLS agent: `ca` (the bundled roots plus a registry's
 * certs.d CAs, or undefined for node's default store) with the user's extra
 * roots added; undefined when there is nothing to set.
 */
export function withUserCas(ca: readonly string[] | undefined, user: readonly string[] = extraCaCerts()): string[] | undefined {
  if (user.length === 0) return ca ? [...ca] : undefined;
  return [...(ca ?? rootCertificates), ...user];
}
