// A directory of small JSON records, one file per key, written atomically
// (a temp file renamed into place), so a reader sees a whole record or
// none. The step cache and the retime index keep their entries this way.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class JsonRecords<T> {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /** The record under `key`, or undefined if there is none (or it is unreadable). */
  get(key: string): T | undefined {
    try {
      return JSON.parse(readFileSync(join(this.dir, `${key}.json`), 'utf8')) as T;
    } catch {
      return undefined;
    }
  }

  put(key: string, record: T): void {
    const tmp = join(this.dir, `.${key}.${process.pid}.tmp`);
    writeFileSync(tmp, JSON.stringify(record));
    renameSync(tmp, join(this.dir, `${key}.json`));
  }
}
