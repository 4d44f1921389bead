// Integration tests drive tsbuild and the oracles through spawnSync, so a
// file of them can hold the worker's event loop for minutes: vitest chains
// tests through microtasks and never returns to the loop between them. The
// worker's reports to the runner (onTaskUpdate) then wait unread behind a
// fixed 60 s RPC timer that Node fires first, and a green run exits 1
// (vitest-dev/vitest#6479, #8164). Returning to the event loop around every
// test lets those replies in, so only a single test over 60 s could still
// trip it, and none comes close.
import { afterEach, beforeEach } from 'vitest';

const turnOfTheLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

beforeEach(turnOfTheLoop);
afterEach(turnOfTheLoop);
