// Pull and push progress inside a build: json mode is one JSON event per
// line with bytes and time per blob; plain mode names the image once,
// before its first blob line.
import { describe, expect, it } from 'vitest';
import { transferProgress } from '../../../../src/build/executor/transfer-progress.js';

const D = `sha256:${'ab'.repeat(32)}`;

describe('transfer progress', () => {
  it('json: start and done events per blob, with bytes and duration; nothing else is written', () => {
    let out = '';
    const p = transferProgress('json', 'pull', 'host/busybox:1', (s) => { out += s; });
    p.start(D, 10);
    p.advance(D, 4);
    p.advance(D, 6);
    p.finish(D, 'done');
    p.finish(`sha256:${'cd'.repeat(32)}`, 'skipped: already exists');
    p.close();
    const events = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.map((e) => [e.type, e.phase, e.image, e.status ?? null])).toEqual([
      ['pull', 'start', 'host/busybox:1', null],
      ['pull', 'done', 'host/busybox:1', 'done'],
      ['pull', 'done', 'host/busybox:1', 'skipped: already exists'],
    ]);
    expect(events[1]).toMatchObject({ digest: D, bytes: 10, total: 10 });
    expect(typeof events[1]?.durationMs).toBe('number');
  });

  it('plain: the image is named once, before its blobs', () => {
    let out = '';
    const p = transferProgress('plain', 'push', 'host/app:1', (s) => { out += s; });
    p.finish(D, 'done');
    p.finish(D, 'mounted from cache/app');
    expect(out).toBe(`Pushing host/app:1\nPushing blob sha256:${'ab'.repeat(6)} done\nPushing blob sha256:${'ab'.repeat(6)} mounted from cache/app\n`);
  });

  it('plain: nothing at all when nothing is transferred', () => {
    let out = '';
    transferProgress('plain', 'pull', 'host/busybox:1', (s) => { out += s; }).close();
    expect(out).toBe('');
  });
});
