// The registry flags that pull, push, login (and run/build, when they pull)
// share, spelled as podman spells them, and their mapping to client options.
// One definition so that every command documents and parses them alike.
import type { FlagSpec, ParsedArgs } from './args.js';
import type { TransportOptions } from '../registry/transport.js';

export const registryFlags: FlagSpec[] = [
  { name: 'tls-verify', type: 'bool', help: 'require HTTPS and verify certificates (default true; loopback registries use HTTP)' },
  { name: 'cert-dir', type: 'string', help: 'use the certificates in DIR (*.crt CAs, *.cert/*.key client pair) instead of /etc/containers/certs.d/HOST', value: 'DIR' },
];

export function registryOptions(a: ParsedArgs): Pick<TransportOptions, 'tlsVerify' | 'certDir'> {
  const out: Pick<TransportOptions, 'tlsVerify' | 'certDir'> = {};
  const verify = a.bools.get('tls-verify');
  if (verify !== undefined) out.tlsVerify = verify;
  const certDir = a.strings.get('cert-dir');
  if (certDir !== undefined) out.certDir = certDir;
  return out;
}
