// EXPOSE port words: `80`, `80/tcp`, `53/udp`, `8000-8010`, and docker's
// mapping form `8080:80` of which only the container port counts. Checked
// as docker's nat.ParsePortSpecs does: ports are 0-65535, ranges ascend, and
// the protocol is tcp, udp or sctp (any case).
import { fail } from '../parser/located-error.js';
import type { PortSpec } from './types.js';

const NUMBER = /^\d{1,5}$/;

export function parsePortSpec(word: string): PortSpec {
  const slash = word.indexOf('/');
  const portPart = slash < 0 ? word : word.slice(0, slash);
  const protoPart = slash < 0 ? 'tcp' : word.slice(slash + 1).toLowerCase();
  if (protoPart !== 'tcp' && protoPart !== 'udp' && protoPart !== 'sctp') {
    bad(word, `unknown protocol ${JSON.stringify(word.slice(slash + 1))}: use tcp, udp or sctp`);
  }
  const mapping = portPart.split(':');
  if (mapping.length > 3) bad(word, 'too many colons');
  const container = mapping.at(-1) as string;
  const [first, last, extra] = container.split('-');
  if (extra !== undefined || first === undefined) bad(word, 'a range is START-END');
  const start = portNumber(word, first);
  const end = last === undefined ? start : portNumber(word, last);
  if (end < start) bad(word, `the range ends (${end}) before it starts (${start})`);
  return { start, end, protocol: protoPart };
}

function portNumber(word: string, text: string): number {
  if (!NUMBER.test(text)) bad(word, text === '' ? 'missing port number' : `${JSON.stringify(text)} is not a port number`);
  const n = Number(text);
  if (n > 65535) bad(word, `${n} is out of range (0-65535)`);
  return n;
}

function bad(word: string, why: string): never {
  return fail('E_BAD_PORT', `invalid port ${JSON.stringify(word)} in EXPOSE: ${why}`);
}
