// HTTPS registries: a docker-registry serving TLS with a certificate from a
// CA made here. Without the CA tsbuild refuses (one line, saying what to do);
// with the CA in --cert-dir it verifies and works; --tls-verify=false skips
// verification. Loopback hosts try plain HTTP first, so this also shows the
// fallback to HTTPS when HTTP gets no registry answer.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxRootfs, expectOneLineError, tempRoot, tsbuildBin } from '../fixtures.js';
import { startRegistry, type RegistryServer } from '../registry-server.js';
import { runCli } from './cli.js';
import { makeLayout, skopeoPush, type BuiltImage } from './oci-layout.js';

let reg: RegistryServer;
let work: string;
let certDir: string;
let img: BuiltImage;
let caFile: string;

/** A CA, and a server certificate it signs for IP 127.0.0.1. */
function makeCerts(dir: string): { ca: string; cert: string; key: string } {
  const f = (n: string): string => join(dir, n);
  const ssl = (...args: string[]): void => { execFileSync('openssl', args, { stdio: 'ignore' }); };
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '2', '-subj', '/CN=tsbuild test CA');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(f('san.ext'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n');
  ssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.crt'), '-days', '2', '-extfile', f('san.ext'));
  return { ca: f('ca.crt'), cert: f('server.crt'), key: f('server.key') };
}

beforeAll(async () => {
  work = mkdtempSync('/tmp/tsbuild-tlstest-');
  const certs = makeCerts(work);
  caFile = certs.ca;
  certDir = join(work, 'trust');
  mkdirSync(certDir);
  copyFileSync(certs.ca, join(certDir, 'ca.crt'));
  reg = await startRegistry({ tls: { certificate: certs.cert, key: certs.key } });
  img = await makeLayout(join(work, 'bb'), 't', { layers: [{ dir: busyboxRootfs }] });
  await skopeoPush(join(work, 'bb'), 't', `${reg.host}/tls/busybox:1`);
  // Prints, before the CLI runs, the CA variables node was started with.
  writeFileSync(join(work, 'env-probe.cjs'), 'process.stderr.write(JSON.stringify({ node: process.env.NODE_EXTRA_CA_CERTS ?? null, moved: process.env.TSBUILD_EXTRA_CA_CERTS ?? null }) + "\\n");\n');
});
afterAll(async () => {
  await reg?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('TLS registries', () => {
  it('refuses an unknown CA with one line that says how to trust it', async () => {
    const { root, cleanup } = tempRoot('tls');
    try {
      const r = await runCli(root, ['pull', `${reg.host}/tls/busybox:1`]);
      expect(r.status).not.toBe(0);
      expectOneLineError(r.stderr);
      expect(r.stderr).toContain(`TLS error talking to ${reg.host}`);
      expect(r.stderr).toContain('certs.d');
    } finally {
      cleanup();
    }
  });

  it('verifies against a CA from --cert-dir, for pull and push', async () => {
    const { root, cleanup } = tempRoot('tls');
    try {
      const pulled = await runCli(root, ['pull', '--cert-dir', certDir, `${reg.host}/tls/busybox:1`]);
      expect(pulled.status, pulled.stderr).toBe(0);
      expect(pulled.stdout.trim()).toBe(img.configDigest);
      const pushed = await runCli(root, ['push', '--cert-dir', certDir, `${reg.host}/tls/busybox:1`, `${reg.host}/tls/copy:1`]);
      expect(pushed.status, pushed.stderr).toBe(0);
      expect(pushed.stdout.trim()).toBe(img.manifestDigest);
    } finally {
      cleanup();
    }
  });

  // Started as users start it (the bin's shebang), tsbuild moves
  // NODE_EXTRA_CA_CERTS aside before node starts (node would parse it and the
  // system store first, ~100 ms a command) and adds those roots itself where
  // it talks TLS: the CA must still be trusted, and the variable gone from
  // node's own start.
  it('trusts a CA named by NODE_EXTRA_CA_CERTS when started as a program', () => {
    const { root, cleanup } = tempRoot('tls');
    try {
      const env = { ...process.env, NODE_EXTRA_CA_CERTS: caFile };
      const pulled = spawnSync(tsbuildBin, ['--root', root, 'pull', `${reg.host}/tls/busybox:1`], { env, encoding: 'utf8', timeout: 60_000 });
      expect(pulled.status, pulled.stderr).toBe(0);
      expect(pulled.stdout.trim()).toBe(img.configDigest);
      // What node itself was started with: the launcher's exec, seen from a RUN-free command.
      const seen = spawnSync('/bin/sh', [tsbuildBin, '--version'], { env: { ...env, NODE_OPTIONS: '--require ' + join(work, 'env-probe.cjs') }, encoding: 'utf8' });
      expect(seen.status, seen.stderr).toBe(0);
      expect(JSON.parse(seen.stderr.trim().split('\n')[0] as string)).toEqual({ node: null, moved: caFile });
    } finally {
      cleanup();
    }
  });

  it('skips verification with --tls-verify=false', async () => {
    const { root, cleanup } = tempRoot('tls');
    try {
      const r = await runCli(root, ['pull', '--tls-verify=false', `${reg.host}/tls/busybox:1`]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe(img.configDigest);
    } finally {
      cleanup();
    }
  });
});
