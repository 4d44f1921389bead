#!/usr/bin/env node
// Entry point kept tiny: the CLI module loads each command lazily so that
// cached builds and `ps` do not pay for the registry or build engine.
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => {
    process.stderr.write(`tsbuild: internal error: ${err && err.message ? err.message : String(err)}\n`);
    process.exitCode = 125;
  },
);
