// The Store implementation (interface and contracts in index.ts).
// TODO: being written; the API in index.ts is stable.
import type { Store } from './index.js';

export class StoreImpl {
  static async open(_root: string): Promise<Store> {
    throw new Error('store: not implemented yet');
  }
}
