// Pull and push progress inside a build (FROM images, cache layers, cache
// export, --push), in the build's progress mode:
// - json: one event per blob and phase on stderr, pure JSON like the step
//   events (`{"type":"pull","phase":"done","image":…,"digest":…,"bytes":…,
//   "durationMs":…}`), never the registry's "Copying blob" lines;
// - plain: a line naming the image (`Pulling busybox:stable`) before its
//   first blob, then the registry's one line per blob;
// - tty: the registry's live bars.
import { makeProgress as registryProgress, plainProgress, type Progress as TransferProgress } from '../../registry/progress.js';

export type TransferMode = 'plain' | 'tty' | 'json';
export type Direction = 'pull' | 'push';

/** The progress of transfers of `what` (an image or cache ref). */
export function transferProgress(mode: TransferMode, direction: Direction, what: string, write: (s: string) => void = (s) => { process.stderr.write(s); }): TransferProgress {
  const verb = direction === 'pull' ? 'Copying' : 'Pushing';
  if (mode === 'tty') return registryProgress(verb);
  if (mode === 'plain') {
    const inner = plainProgress(write, verb);
    let named = false;
    const name = () => { if (!named) { named = true; write(`${direction === 'pull' ? 'Pulling' : 'Pushing'} ${what}\n`); } };
    return {
      start: (d, total) => { name(); inner.start(d, total); },
      advance: (d, n) => inner.advance(d, n),
      finish: (d, status) => { name(); inner.finish(d, status); },
      note: (line) => { name(); inner.note(line); },
      close: () => inner.close(),
    };
  }
  const emit = (ev: object) => write(`${JSON.stringify({ time: new Date().toISOString(), type: direction, image: what, ...ev })}\n`);
  const blobs = new Map<string, { total: number; bytes: number; start: number }>();
  return {
    start(digest, total) {
      blobs.set(digest, { total, bytes: 0, start: performance.now() });
      emit({ phase: 'start', digest, total });
    },
    advance(digest, n) {
      const b = blobs.get(digest);
      if (b) b.bytes += n;
    },
    finish(digest, status) {
      const b = blobs.get(digest);
      blobs.delete(digest);
      emit({ phase: 'done', digest, status, bytes: b?.bytes ?? 0, ...(b ? { total: b.total } : {}), durationMs: b ? Math.round(performance.now() - b.start) : 0 });
    },
    note: (text) => emit({ phase: 'note', text }),
    close() {},
  };
}
