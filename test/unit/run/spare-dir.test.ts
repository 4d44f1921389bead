// The spare container directory: made ahead on the thread pool, taken by a
// rename (same inode, so ext4's placement is kept), and the spares of dead
// processes removed by the next start's reaper, while a live one's stay.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { prepareSpare, reapSpares, takeSpare } from '../../../src/run/spare-dir.js';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function untilMade(containers: string): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const spare = readdirSync(containers).find((n) => n.startsWith('.spare-'));
    if (spare) {
      await new Promise((r) => setTimeout(r, 5)); // the promise's callback runs after the mkdir itself
      return spare;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('no spare was made');
}

it('takes a spare made ahead by renaming it, and falls back when none is ready', async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsbuild-spare-'));
  expect(takeSpare(dir, join(dir, 'c1'))).toBe(false);
  prepareSpare(dir);
  prepareSpare(dir); // one at a time
  const spare = await untilMade(dir);
  expect(spare).toMatch(new RegExp(`^\\.spare-${process.pid}-\\d+$`));
  const ino = statSync(join(dir, spare)).ino;
  expect(takeSpare(dir, join(dir, 'c1'))).toBe(true);
  expect(statSync(join(dir, 'c1')).ino).toBe(ino);
  expect(readdirSync(dir)).toEqual(['c1']);
  expect(takeSpare(dir, join(dir, 'c2'))).toBe(false); // used up until the next prepareSpare
});

it('reaps the spares of dead processes and keeps those of live ones', () => {
  dir = mkdtempSync(join(tmpdir(), 'tsbuild-spare-'));
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const deadPid = Number(dead.stdout);
  for (const name of [`.spare-${deadPid}-0`, `.spare-${process.pid}-7`, `.spare-1-0`, 'abc123']) mkdirSync(join(dir, name));
  reapSpares(dir);
  expect(readdirSync(dir).sort()).toEqual([`.spare-${process.pid}-7`, '.spare-1-0', 'abc123'].sort());
});
