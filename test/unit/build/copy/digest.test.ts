import { chmodSync, linkSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { copySourceDigest } from '../../../../src/build/copy/index.js';
import { IgnoreMatcher, parseIgnoreFile } from '../../../../src/build/context/index.js';
import { cleanupTemp, contextStep, copyIns, heredoc, tempDir, tree } from '../../../shared/copy-steps.js';

afterEach(cleanupTemp);

describe('copySourceDigest', () => {
  const setup = () => tree(tempDir(), { 'app/main.js': 'console.log(1)\n', 'app/lib/util.js': 'x', 'app/link -> main.js': null, 'other.txt': 'o' });
  const digest = (ctx: string, over: Partial<ReturnType<typeof copyIns>> = {}, sources = ['app']) => copySourceDigest(contextStep(copyIns(sources, '/srv/', over), ctx));

  it('ignores mtimes', async () => {
    const ctx = setup();
    const before = await digest(ctx);
    utimesSync(join(ctx, 'app/main.js'), new Date(2001, 1, 1), new Date(2001, 1, 1));
    utimesSync(join(ctx, 'app/lib'), new Date(2002, 1, 1), new Date(2002, 1, 1));
    expect(await digest(ctx)).toBe(before);
    expect(before).toMatch(/^sha256:[a-f0-9]{64}$/);
  });

  it('with an epoch, hashes min(mtime, epoch): a touch after it hits, an older mtime changed misses', async () => {
    const ctx = setup();
    const epoch = Math.floor(new Date(2010, 1, 1).getTime() / 1000);
    const clamped = async () => copySourceDigest({ ...contextStep(copyIns(['app'], '/srv/'), ctx), clampMtime: epoch });
    const before = await clamped();
    expect(before).not.toBe(await digest(ctx)); // the epoch's keys are their own
    utimesSync(join(ctx, 'app/main.js'), new Date(2020, 1, 1), new Date(2020, 1, 1));
    expect(await clamped()).toBe(before); // now and 2020 both clamp to the epoch
    utimesSync(join(ctx, 'app/main.js'), new Date(2001, 1, 1), new Date(2001, 1, 1));
    expect(await clamped()).not.toBe(before); // 2001 stays 2001 in the layer
  });

  it('changes with one byte, a mode, a link target, a new file, or a hard link', async () => {
    const ctx = setup();
    const seen = new Set([await digest(ctx)]);
    const changed = async (what: string) => {
      const d = await digest(ctx);
      expect(seen.has(d), what).toBe(false);
      seen.add(d);
    };
    writeFileSync(join(ctx, 'app/main.js'), 'console.log(2)\n');
    await changed('content');
    chmodSync(join(ctx, 'app/main.js'), 0o755);
    await changed('mode');
    rmSync(join(ctx, 'app/link'));
    symlinkSync('lib/util.js', join(ctx, 'app/link'));
    await changed('link target');
    writeFileSync(join(ctx, 'app/lib/new.js'), '');
    await changed('new file');
    rmSync(join(ctx, 'app/lib/new.js'));
    linkSync(join(ctx, 'app/main.js'), join(ctx, 'app/lib/new.js'));
    await changed('hard link');
  });

  it('covers the flags and destination that change the result', async () => {
    const ctx = setup();
    const base = await digest(ctx);
    for (const over of [{ chmod: '755' }, { chown: '1000' }, { dest: '/other/' }, { exclude: ['*.js'] }, { parents: true }]) {
      expect(await digest(ctx, over), JSON.stringify(over)).not.toBe(base);
    }
    expect(await digest(ctx, {}, ['other.txt'])).not.toBe(base);
  });

  it('hashes heredoc bodies', async () => {
    const ctx = tempDir();
    const a = await copySourceDigest(contextStep(copyIns([], '/f', { inline: [heredoc('EOF', 'one\n')] }), ctx));
    const b = await copySourceDigest(contextStep(copyIns([], '/f', { inline: [heredoc('EOF', 'two\n')] }), ctx));
    expect(a).not.toBe(b);
  });

  it('does not see ignored files', async () => {
    const ctx = setup();
    const step = () => contextStep(copyIns(['.'], '/srv/'), ctx, [], { ignore: new IgnoreMatcher(parseIgnoreFile('other.txt')) });
    const before = await copySourceDigest(step());
    writeFileSync(join(ctx, 'other.txt'), 'changed');
    expect(await copySourceDigest(step())).toBe(before);
  });

  it('fails like the copy would, with the location', async () => {
    await expect(digest(tempDir())).rejects.toMatchObject({ code: 'E_SOURCE_NOT_FOUND', location: { file: 'Containerfile', line: 7 } });
  });
});
