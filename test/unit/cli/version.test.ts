import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { packageVersion } from '../../../src/cli/cmd-version.js';

const pkg = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../../package.json'), 'utf8')) as { version: string };

function capture(): { out: () => string } {
  let text = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => { text += String(chunk); return true; });
  return { out: () => text };
}

afterEach(() => { vi.restoreAllMocks(); });

describe('version', () => {
  it('reads the package version', () => {
    expect(packageVersion()).toBe(pkg.version);
  });

  it('prints one line for --version and -v, as buildah --version does', async () => {
    for (const flag of ['--version', '-v']) {
      const c = capture();
      expect(await main([flag])).toBe(0);
      vi.restoreAllMocks();
      expect(c.out()).toBe(`tsbuild version ${pkg.version}\n`);
    }
  });

  it('prints a table for `tsbuild version` and refuses arguments', async () => {
    const c = capture();
    expect(await main(['version'])).toBe(0);
    vi.restoreAllMocks();
    expect(c.out()).toMatch(new RegExp(`^Version: +${pkg.version.replace(/\./g, '\\.')}\nNode Version: +${process.version.replace(/\./g, '\\.')}\n`));
    expect(c.out()).toMatch(/OS\/Arch: +linux\//);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect(await main(['version', 'extra'])).not.toBe(0);
    expect(String(err.mock.calls[0]?.[0])).toBe('tsbuild: "tsbuild version" accepts no arguments (got extra)\n');
  });
});
