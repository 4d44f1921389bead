// Bundles the compiled CLI (dist/, from tsc) into one CommonJS file,
// dist/bundle/tsbuild.cjs, with esbuild. Why: each tsbuild command is a
// fresh Node process, and Node 20's ES module loader costs ~2 ms per module
// (resolve, URL and package-scope work, async file reads on the thread
// pool): a cached build loaded 53 chunks of the earlier split ESM bundle and
// spent ~100 ms of its ~220 ms in the loader. One script read in one call is
// also what a V8 code cache can cover (bin/tsbuild.js keeps one; see there).
//
// Lazy `import()`s stay lazy: esbuild wraps each module it reaches only
// through import() in an init function, so the registry client, tar code and
// the rest still run their top level only when a command needs them; V8
// compiles the functions of the file lazily too. tsc still type-checks and
// emits dist/ (the bundle's input and what the tests import).
//
// `import.meta.url` (the native module's and the CommonJS packages' createRequire)
// becomes the bundle's own file URL; paths computed from it stay right because
// dist/bundle/ is as deep as dist/<module>/.
//   node scripts/bundle.mjs [dist/NAME]    (default dist/bundle)
// Another dir one level under dist/ serves a test that must not replace
// the bundle other tests are running.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build, transform } from 'esbuild';

const outdir = process.argv[2] ?? 'dist/bundle';
if (!/^dist\/[^/]+$/.test(outdir)) throw new Error(`bundle.mjs: the output dir must be dist/NAME, not ${outdir}`);
// Written beside the dir and renamed into place: a CLI started meanwhile
// (an integration test) reads the old file or the new one, never half of one.
const staging = `${outdir}.staging-${process.pid}`;
rmSync(staging, { recursive: true, force: true });
try {
  await build({
    entryPoints: { tsbuild: 'dist/cli/main.js' },
    outdir: staging,
    outExtension: { '.js': '.cjs' },
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    // Native and CommonJS modules loaded at run time through createRequire stay outside.
    external: ['*.node'],
    packages: 'bundle',
    sourcemap: 'linked',
    // Strings, regexps and names with non-ASCII characters are escaped (see asciiOnly).
    charset: 'ascii',
    define: { 'import.meta.url': '__bundleUrl' },
    banner: { js: "'use strict';\nconst __bundleUrl = require('node:url').pathToFileURL(__filename).href;" },
    logLevel: 'warning',
  });
  const file = join(staging, 'tsbuild.cjs');
  const code = readFileSync(file, 'utf8');
  // bin/tsbuild.js compiles the bundle with vm.Script, which has no loader for a real
  // import(): every import() must have become a bundled module's init call.
  const left = /\bimport\s*\(|\bimport\.meta\b/.exec(code);
  if (left) throw new Error(`bundle.mjs: "${left[0]}" left in the bundle (a computed import() or import.meta property cannot be bundled)`);
  writeFileSync(file, await asciiOnly(code));
  mkdirSync(outdir, { recursive: true });
  const made = ['tsbuild.cjs.map', 'tsbuild.cjs'];
  for (const f of made) renameSync(join(staging, f), join(outdir, f));
  // Whatever else the dir holds goes: the old bundle's code cache (bin/tsbuild.js
  // would reject it anyway), an earlier split bundle's chunks.
  for (const f of readdirSync(outdir)) if (!made.includes(f)) rmSync(join(outdir, f), { recursive: true, force: true });
} finally {
  rmSync(staging, { recursive: true, force: true });
}

/**
 * The bundle with the non-ASCII characters esbuild leaves in comments ("…",
 * "→") spelt as <U+2026>. Why: bin/tsbuild.js reads the file as latin1, a
 * copy, where UTF-8 decoding of one such character makes the whole 1 MB
 * source a two-byte string (~2 ms more per command). Proved harmless: with
 * comments stripped, the code is the same before and after; where it is
 * not, the bundle stays UTF-8 and bin/tsbuild.js decodes it as such.
 */
async function asciiOnly(code) {
  const ascii = code.replace(/[^\x00-\x7f]/gu, (c) => `<U+${c.codePointAt(0).toString(16).toUpperCase()}>`);
  if (ascii === code) return code;
  const stripped = async (js) => (await transform(js, { minifyWhitespace: true, legalComments: 'none', charset: 'ascii', format: 'cjs', platform: 'node' })).code;
  if ((await stripped(code)) === (await stripped(ascii))) return ascii;
  // esbuild escapes strings and names, not regexp literals: write \uXXXX there.
  process.stderr.write('bundle.mjs: warning: non-ASCII characters outside comments (a regexp literal?): the bundle stays UTF-8, ~2 ms slower to load\n');
  return code;
}
