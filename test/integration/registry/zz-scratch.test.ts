import { it, expect } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startRegistry } from '../registry-server.js';
import { startTokenServer } from './token-server.js';
import { makeLayout, skopeoPush, skopeoDigest } from './oci-layout.js';
import { busyboxRootfs } from '../fixtures.js';

it('scratch', async () => {
  const dir = mkdtempSync('/tmp/tsb-scratch-');
  const ts = await startTokenServer(dir, { username: 'u', password: 'p' });
  const reg = await startRegistry({ token: { realm: ts.realm, service: ts.service, issuer: ts.issuer, rootCertBundle: ts.certPath } });
  const img = await makeLayout(join(dir, 'layout'), 't', { layers: [{ dir: busyboxRootfs }] });
  skopeoPush(join(dir, 'layout'), 't', `${reg.host}/bb:1`, { creds: 'u:p' });
  expect(skopeoDigest(`${reg.host}/bb:1`, 'u:p')).toBe(img.manifestDigest);
  console.log(ts.requests);
  const reg2 = await startRegistry({ htpasswd: { username: 'u', password: 'p' } });
  skopeoPush(join(dir, 'layout'), 't', `${reg2.host}/bb:1`, { creds: 'u:p' });
  await reg.stop(); await reg2.stop(); await ts.stop();
  rmSync(dir, { recursive: true });
});
