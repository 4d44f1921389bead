// Progress output: plain lines for logs, redrawn bars for terminals.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { formatBytes, plainProgress, ttyProgress } from '../../../src/registry/progress.js';

const D1 = `sha256:${'ab'.repeat(32)}`;
const D2 = `sha256:${'cd'.repeat(32)}`;

describe('progress', () => {
  beforeEach(() => { vi.useFakeTimers(); });
  afterEach(() => { vi.useRealTimers(); });

  it('prints one plain line per finished blob', () => {
    let out = '';
    const p = plainProgress((s) => { out += s; }, 'Copying');
    p.start(D1, 100);
    p.advance(D1, 100);
    p.finish(D1, 'done');
    p.finish(D2, 'skipped: already exists');
    p.note('Writing manifest to image destination');
    p.close();
    expect(out).toBe(`Copying blob sha256:abababababab done\nCopying blob sha256:cdcdcdcdcdcd skipped: already exists\nWriting manifest to image destination\n`);
  });

  it('redraws bars in place in a terminal', () => {
    let out = '';
    const p = ttyProgress((s) => { out += s; }, 'Copying', 100);
    p.start(D1, 2048);
    p.start(D2, 1024);
    p.advance(D1, 1024);
    vi.advanceTimersByTime(150);
    expect(out).toContain('Copying blob sha256:abababababab [');
    expect(out).toContain('1.0KiB / 2.0KiB');
    out = '';
    p.finish(D2, 'done');
    p.close();
    // Moves up over the two bars it drew, then draws both again.
    expect(out.startsWith('\x1b[2A')).toBe(true);
    expect(out).toContain('Copying blob sha256:cdcdcdcdcdcd done');
    expect(out.split('\n').filter(Boolean)).toHaveLength(2);
  });

  it('formats sizes', () => {
    expect(formatBytes(512)).toBe('512B');
    expect(formatBytes(50 * 1024 * 1024)).toBe('50.0MiB');
  });
});
