// Resolves an image reference to what the runtime needs (see src/image/runnable.ts).
import type { RunnableImage } from '../image/runnable.js';
import type { Store } from './index.js';

export async function resolveRunnable(_store: Store, _ref: string): Promise<RunnableImage> {
  throw new Error('store: not implemented yet');
}
