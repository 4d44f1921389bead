// node:crypto, loaded on first use. Its JS side is not in Node's start-up
// snapshot: requiring it costs ~4 ms of every CLI call, and a fully cached
// build needs none of it (small hashes go through ./sha256.ts). Modules
// that stream big inputs through a Hash, or need random bytes, call
// nodeCrypto() where they do. A leaf module.
import { createRequire } from 'node:module';

type NodeCrypto = typeof import('node:crypto');

let loaded: NodeCrypto | undefined;

export function nodeCrypto(): NodeCrypto {
  loaded ??= createRequire(import.meta.url)('node:crypto') as NodeCrypto;
  return loaded;
}
