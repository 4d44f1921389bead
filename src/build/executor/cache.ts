// The build cache: step key → the image state after that step. A key
// hashes the parent's key, the expanded instruction, the build args it
// sees and, for COPY/ADD, the content digest of its sources; never mtimes.
// Entries are small JSON files written atomically. Concurrent builds of
// the same step serialise on a per-key lock, so the second one finds the
// first one's result instead of making a different layer. Beside the
// steps, the retime index (retime.ts) keeps entries across epochs.
import { sha256Hex } from '../../sha256.js';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { native } from '../../native/index.js';
import type { StoredState } from './image-state.js';
import { JsonRecords } from './json-records.js';
import { RetimeIndex } from './retime.js';

export function cacheKey(parts: readonly unknown[]): string {
  return sha256Hex(JSON.stringify(parts));
}

export class BuildCache {
  private readonly steps: JsonRecords<StoredState>;
  /** A COPY --from=STAGE's chain key → its content key (stage.ts): a lazy source stage need not be fetched to hash it. */
  private readonly chains: JsonRecords<{ contentKey: string }>;
  private readonly lockDir: string;
  /** Retime key → the newest state under it, and its SOURCE_DATE_EPOCH. */
  readonly retime: RetimeIndex;

  constructor(root: string) {
    this.steps = new JsonRecords(join(root, 'cache', 'steps'));
    this.chains = new JsonRecords(join(root, 'cache', 'chains'));
    this.lockDir = join(root, 'locks', 'steps');
    mkdirSync(this.lockDir, { recursive: true });
    this.retime = new RetimeIndex(root);
  }

  get(key: string): StoredState | undefined {
    return this.steps.get(key);
  }

  put(key: string, state: StoredState): void {
    this.steps.put(key, state);
  }

  contentKeyOf(chainKey: string): string | undefined {
    const c = this.chains.get(chainKey)?.contentKey;
    return typeof c === 'string' && /^[0-9a-f]{64}$/.test(c) ? c : undefined;
  }

  putChain(chainKey: string, contentKey: string): void {
    if (this.contentKeyOf(chainKey) !== contentKey) this.chains.put(chainKey, { contentKey });
  }

  /**
   * Exclusive lock on one key across processes; resolves to its release.
   * The flock files are shared by key prefix (256 of them), so within this
   * process a prefix is locked once and shared by every key under it (the
   * stages of a build run in parallel, and two of their steps must not wait
   * for each other, nor block two thread-pool threads on one file); the
   * same key is still one holder at a time.
   */
  async lock(key: string): Promise<() => void> {
    const mine = this.keys.get(key) ?? Promise.resolve();
    let releaseKey!: () => void;
    const next = new Promise<void>((r) => { releaseKey = r; });
    const tail = mine.then(() => next);
    this.keys.set(key, tail);
    await mine;
    const prefix = key.slice(0, 2);
    let held = this.prefixes.get(prefix);
    if (!held) {
      const fd = native().lockFile(join(this.lockDir, prefix), true);
      held = { fd, users: 0 };
      this.prefixes.set(prefix, held);
    }
    held.users++;
    let fd: number;
    try {
      fd = await held.fd;
    } catch (err) {
      if (--held.users === 0) this.prefixes.delete(prefix);
      releaseKey();
      throw err;
    }
    const h = held;
    return () => {
      if (--h.users === 0) {
        this.prefixes.delete(prefix);
        native().unlockFile(fd);
      }
      releaseKey();
      if (this.keys.get(key) === tail) this.keys.delete(key); // nobody queued behind: forget the key
    };
  }

  /** This process's holders: per key, the tail of its queue; per prefix, the flock and how many keys use it. */
  private readonly keys = new Map<string, Promise<void>>();
  private readonly prefixes = new Map<string, { fd: Promise<number>; users: number }>();
}
