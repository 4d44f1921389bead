// Bundles the compiled CLI (dist/, from tsc) into dist/bundle/ with esbuild,
// keeping every lazy `import()` as its own chunk. Why: each tsbuild command
// is a fresh Node process, and resolving and loading ~70 separate ES modules
// costs more than the code itself (a cached build spends ~85 ms loading
// them); one entry chunk plus the chunks a command actually needs is
// measurably faster (see README, performance notes). tsc still type-checks
// and emits dist/ (the bundle's input and what the tests import).
//
// Paths computed from import.meta.url (the native module, createRequire)
// stay right because dist/bundle/ is as deep as dist/<module>/.
//   node scripts/bundle.mjs [dist/NAME]    (default dist/bundle)
// Another dir one level under dist/ serves a test that must not replace
// the bundle other tests are running.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

const outdir = process.argv[2] ?? 'dist/bundle';
if (!/^dist\/[^/]+$/.test(outdir)) throw new Error(`bundle.mjs: the output dir must be dist/NAME, not ${outdir}`);
// Chunk names carry content hashes, so every rebuild writes new files:
// start from an empty dir, or the old chunks pile up (hundreds after a day).
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: { main: 'dist/cli/main.js' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Native and CommonJS modules loaded at run time through createRequire stay outside.
  external: ['*.node'],
  packages: 'bundle',
  sourcemap: 'linked',
  // CommonJS dependencies (tar-stream's streamx, node-fetch's helpers)
  // require() Node built-ins; an ES module has no require of its own.
  banner: { js: "import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);" },
  logLevel: 'warning',
});
