import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { extraCaCerts, withUserCas } from '../../src/tls-ca.js';

const dir = mkdtempSync(join(tmpdir(), 'tsbuild-tlsca-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the user\'s extra TLS roots', () => {
  it('reads the file the launcher moved aside, and NODE_EXTRA_CA_CERTS, once each', () => {
    const a = join(dir, 'a.pem');
    const b = join(dir, 'b.pem');
    writeFileSync(a, 'PEM-A');
    writeFileSync(b, 'PEM-B');
    expect(extraCaCerts({ TSBUILD_EXTRA_CA_CERTS: a })).toEqual(['PEM-A']);
    expect(extraCaCerts({ NODE_EXTRA_CA_CERTS: b })).toEqual(['PEM-B']);
    expect(extraCaCerts({ TSBUILD_EXTRA_CA_CERTS: a, NODE_EXTRA_CA_CERTS: a })).toEqual(['PEM-A']);
    expect(extraCaCerts({})).toEqual([]);
  });

  it('warns about a file it cannot read, as node does, and goes on', () => {
    const warnings: string[] = [];
    expect(extraCaCerts({ TSBUILD_EXTRA_CA_CERTS: join(dir, 'missing.pem') }, (m) => warnings.push(m))).toEqual([]);
    expect(warnings).toEqual([`ignoring extra CA certificates from ${join(dir, 'missing.pem')}: ENOENT`]);
  });

  it('adds them to the bundled roots or to a registry\'s certs.d CAs, and sets nothing when there are none', () => {
    expect(withUserCas(undefined, [])).toBeUndefined();
    expect(withUserCas(['R', 'D'], [])).toEqual(['R', 'D']);
    expect(withUserCas(['R', 'D'], ['U'])).toEqual(['R', 'D', 'U']);
    const fromRoots = withUserCas(undefined, ['U']);
    expect(fromRoots?.length).toBe(rootCertificates.length + 1);
    expect(fromRoots?.at(-1)).toBe('U');
  });
});
