// ensureImage: local names win, policies, and IDs are never pulled.
import { describe, expect, it } from 'vitest';
import { ensureImage } from '../../../src/registry/index.js';
import type { ImageRecord, Store } from '../../../src/store/index.js';

const rec = { id: `sha256:${'1'.repeat(64)}`, names: ['docker.io/library/app:1'] } as ImageRecord;
function store(images: Record<string, ImageRecord>): Store {
  return { root: '/nonexistent', findImage: async (r: string) => images[r] } as unknown as Store;
}

describe('ensureImage', () => {
  it('returns a local image without asking a registry', async () => {
    expect(await ensureImage(store({ 'app:1': rec }), 'app:1', { quiet: true })).toBe(rec);
  });

  it('never pulls with policy never, nor for an image ID', async () => {
    await expect(ensureImage(store({}), 'app:1', { policy: 'never', quiet: true })).rejects.toMatchObject({ code: 'E_IMAGE_NOT_FOUND' });
    await expect(ensureImage(store({}), 'f'.repeat(64), { quiet: true })).rejects.toMatchObject({ code: 'E_IMAGE_NOT_FOUND' });
    await expect(ensureImage(store({}), `sha256:${'f'.repeat(64)}`, { quiet: true })).rejects.toMatchObject({ code: 'E_IMAGE_NOT_FOUND' });
  });

  it('pulls what is missing (here from a registry that is not there)', async () => {
    await expect(ensureImage(store({}), '127.0.0.1:1/app:1', { quiet: true, retries: 0 })).rejects.toMatchObject({ code: 'E_REGISTRY_UNREACHABLE' });
  });
});
