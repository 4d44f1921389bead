#!/bin/sh
':' //; if [ -n "${NODE_EXTRA_CA_CERTS-}" ]; then TSBUILD_EXTRA_CA_CERTS=$NODE_EXTRA_CA_CERTS; export TSBUILD_EXTRA_CA_CERTS; unset NODE_EXTRA_CA_CERTS; fi; exec node "$0" "$@"
// The two lines above are both shell and JavaScript. Started as a program
// (`tsbuild`, through its shebang) this file is a shell script that execs
// node on itself; to node, line 2 is a string and a comment. Why: with
// NODE_EXTRA_CA_CERTS set (corporate CAs, TLS-intercepting proxies), Node
// parses that whole bundle and the system roots before any JavaScript runs:
// 100 of the 140 ms a command took here (`node -e 0`: 0.13 s with it, 0.04
// s without). The variable is moved to TSBUILD_EXTRA_CA_CERTS, and
// src/tls-ca.ts adds those CAs where tsbuild opens TLS connections (the
// registry client, ADD <url>), so they are read only by a command that
// talks TLS. `node bin/tsbuild.js` still works: node then reads them itself.
// Entry point: runs the CLI bundle (dist/bundle/tsbuild.cjs, one CommonJS
// file made by scripts/bundle.mjs) through a V8 code cache. Why: every
// tsbuild command is a fresh Node process, so loading the CLI is part of
// every call; a fully cached build used to spend more time in Node's ES
// module loader and in compiling than in building (README, performance
// notes). This file is CommonJS (bin/package.json) for the same reason: an
// ES module entry starts the ES loader (~15 ms of CPU here).
//
// The cache is V8's serialised bytecode of the functions a command ran,
// written beside the bundle by the first command that finds none, and
// replaced once by a build if a lighter command (`images`) wrote it. It is
// used only for the exact bundle file it was made from (V8 version, size,
// mtime and inode in its header) and V8 refuses it itself on any other
// mismatch (node flags, V8 build); a missing, stale or refused cache costs
// only the plain compile. It lives with the bundle because whoever may
// write it may write the code: a dir the running user cannot write
// (a root-owned install, a rootless user) gets no cache, never an error.
'use strict';
const { closeSync, fstatSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } = require('node:fs');
const { isAscii } = require('node:buffer');
const { createRequire } = require('node:module');
const { dirname, join } = require('node:path');
const { Script } = require('node:vm');

const BUNDLE = join(__dirname, '../dist/bundle/tsbuild.cjs');
const CACHE = `${BUNDLE}.cache`;

/** The bundle's text and the key a cache for it must carry. */
function readBundle() {
  const fd = openSync(BUNDLE, 'r');
  try {
    const st = fstatSync(fd, { bigint: true });
    const bytes = readFileSync(fd);
    // latin1 is a plain copy; bundle.mjs keeps the file ASCII, where the two decodings agree.
    const text = isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
    return { text, key: `tsbuild-code-cache v1 ${process.versions.v8} ${process.arch} ${st.size} ${st.mtimeNs} ${st.ino}` };
  } finally {
    closeSync(fd);
  }
}

/** The cached data for `key` and the kind of command that wrote it, or undefined. */
function readCache(key) {
  let buf;
  try {
    buf = readFileSync(CACHE);
  } catch {
    return undefined;
  }
  const nl = buf.indexOf(10);
  if (nl < 0) return undefined;
  const [k, kind] = splitHeader(buf.toString('latin1', 0, nl));
  return k === key ? { data: buf.subarray(nl + 1), kind } : undefined;
}

function splitHeader(line) {
  const sp = line.lastIndexOf(' ');
  return [line.slice(0, sp), line.slice(sp + 1)];
}

/** Best effort: a temp file renamed into place, so a reader sees the old cache or the new one. */
function writeCache(key, kind, data) {
  const tmp = `${CACHE}.${process.pid}.tmp`;
  try {
    removeStaleTemps();
    writeFileSync(tmp, Buffer.concat([Buffer.from(`${key} ${kind}\n`, 'latin1'), data]), { flag: 'wx', mode: 0o644 });
    renameSync(tmp, CACHE);
  } catch {
    rmSync(tmp, { force: true });
  }
}

/** Temp files of writers killed mid-write (kill -9): the next writer removes them. */
function removeStaleTemps() {
  const dir = dirname(BUNDLE);
  for (const f of readdirSync(dir)) {
    const m = /^tsbuild\.cjs\.cache\.(\d+)\.tmp$/.exec(f);
    if (m && !alive(Number(m[1]))) rmSync(join(dir, f), { force: true });
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

// Loosely "a build" (a misjudged word only decides whether the cache is made again).
const argv = process.argv.slice(2);
const kind = argv.includes('build') || argv.includes('-f') ? 'build' : 'other';

let bundle;
try {
  bundle = readBundle();
} catch (err) {
  process.stderr.write(`tsbuild: cannot read ${BUNDLE} (${err.code ?? err.message}): run \`npm run build:ts\`\n`);
  process.exit(125);
}
const cache = readCache(bundle.key);
// The wrapper is the one Node gives a CommonJS module.
const script = new Script(`(function (exports, require, module, __filename, __dirname) {${bundle.text}\n})`, {
  filename: BUNDLE,
  ...(cache ? { cachedData: cache.data } : {}),
});
const mod = { exports: {} };
script.runInThisContext().call(mod.exports, mod.exports, createRequire(BUNDLE), mod, BUNDLE, dirname(BUNDLE));

mod.exports.main(argv).then(
  (code) => {
    process.exitCode = code;
    // After the command, so that the functions it ran are in the cache compiled.
    if (!cache || script.cachedDataRejected || (cache.kind !== 'build' && kind === 'build')) writeCache(bundle.key, kind, script.createCachedData());
  },
  (err) => {
    process.stderr.write(`tsbuild: internal error: ${err && err.message ? err.message : String(err)}\n`);
    process.exitCode = 125;
  },
);
