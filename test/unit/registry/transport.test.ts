// The plain-HTTP rule, registries.conf and certs.d.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isLoopback, loadCertsFor, parseInsecureRegistries, resolveTransport } from '../../../src/registry/transport.js';

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'tsbuild-transport-')); });
afterEach(() => { rmSync(dir, { recursive: true, force: true }); });

describe('transport', () => {
  it('treats only loopback hosts as plain-HTTP', () => {
    for (const h of ['localhost', 'localhost:5000', '127.0.0.1:5000', '127.3.4.5', '[::1]:5000', 'app.localhost']) expect(isLoopback(h)).toBe(true);
    for (const h of ['10.0.0.1:5000', 'example.com', 'localhost.example.com', '128.0.0.1', '[::2]:5000', 'docker.io']) expect(isLoopback(h)).toBe(false);
  });

  it('reads insecure registries from registries.conf (v2 tables and v1 list)', () => {
    const conf = `
unqualified-search-registries = ["docker.io"]  # a comment

[[registry]]
location = "secure.example:5000"

[[registry]]
prefix = "x.example/foo"
location = "insecure.example:5000"   # the mirror
insecure = true

[[registry]]
location = '*.internal'
insecure = true

[registries.insecure]
registries = [
  "old.example",
  'older.example:443',
]
`;
    expect(parseInsecureRegistries(conf)).toEqual(['insecure.example:5000', '*.internal', 'old.example', 'older.example:443']);
  });

  it('chooses schemes: loopback HTTP, insecure HTTPS-then-HTTP, else HTTPS only', () => {
    const conf = join(dir, 'registries.conf');
    writeFileSync(conf, '[[registry]]\nlocation = "insecure.example"\ninsecure = true\n\n[[registry]]\nlocation = "*.lan"\ninsecure = true\n');
    const o = { registriesConf: conf, certsDir: join(dir, 'certs.d') };
    expect(resolveTransport('127.0.0.1:5000', o).schemes).toEqual(['http', 'https']);
    expect(resolveTransport('insecure.example', o).schemes).toEqual(['https', 'http']);
    expect(resolveTransport('box.lan:5000', o).schemes).toEqual(['https', 'http']);
    expect(resolveTransport('secure.example', o).schemes).toEqual(['https']);
    expect(resolveTransport('secure.example', { ...o, tlsVerify: false }).schemes).toEqual(['https', 'http']);
    expect(resolveTransport('secure.example', { ...o, tlsVerify: false }).httpsAgent.options.rejectUnauthorized).toBe(false);
    expect(resolveTransport('secure.example', o).httpsAgent.options.rejectUnauthorized).toBe(true);
  });

  it('adds certs.d CAs to the system roots and pairs client certs', () => {
    const d = join(dir, 'reg.example:5000');
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'ca.crt'), 'CA-PEM');
    writeFileSync(join(d, 'client.cert'), 'CERT');
    writeFileSync(join(d, 'client.key'), 'KEY');
    const c = loadCertsFor('reg.example:5000', dir);
    expect(c.ca?.at(-1)).toBe('CA-PEM');
    expect((c.ca?.length ?? 0) > 1).toBe(true);
    expect(c).toMatchObject({ cert: 'CERT', key: 'KEY' });
    expect(loadCertsFor('other', dir)).toEqual({});
    rmSync(join(d, 'client.key'));
    expect(() => loadCertsFor('reg.example:5000', dir)).toThrow(/no matching client.key/);
  });
});
