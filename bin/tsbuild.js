#!/usr/bin/env node
// Entry point kept tiny: the CLI module loads each command lazily so that
// cached builds and `ps` do not pay for the registry or build engine. It
// runs the esbuild bundle of dist/ (scripts/bundle.mjs): one process per
// command makes module loading a real part of every call.
import { main } from '../dist/bundle/main.js';

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => {
    process.stderr.write(`tsbuild: internal error: ${err && err.message ? err.message : String(err)}\n`);
    process.exitCode = 125;
  },
);
