#!/usr/bin/env node
// Builds a committed revision into its own dir, so that it can be measured
// while the working tree is being edited (TSBUILD_BIN=DIR/bin/tsbuild.js
// node bench/….mjs), or two revisions compared. Uses this checkout's
// node_modules and native module (the crate is not rebuilt: a revision whose
// crate differs needs `npm run build:native` first).
//   node bench/snapshot.mjs [REV] DIR      (REV defaults to HEAD)
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './lib/tsbuild.mjs';

const args = process.argv.slice(2);
if (args.length < 1 || args.length > 2) {
  process.stderr.write('usage: node bench/snapshot.mjs [REV] DIR\n');
  process.exit(2);
}
const [rev, dir] = args.length === 2 ? args : ['HEAD', args[0]];
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
const archive = execFileSync('git', ['-C', REPO, 'archive', '--format=tar', rev], { maxBuffer: 1 << 30 });
execFileSync('tar', ['-x', '-C', dir], { input: archive });
symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
for (const f of readdirSync(join(REPO, 'crates/native')).filter((n) => n.endsWith('.node'))) {
  copyFileSync(join(REPO, 'crates/native', f), join(dir, 'crates/native', f));
}
execFileSync(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')], { stdio: 'inherit' });
// Revisions since the CLI runs from an esbuild bundle need it built too.
if (existsSync(join(dir, 'scripts/bundle.mjs'))) execFileSync(process.execPath, ['scripts/bundle.mjs'], { cwd: dir, stdio: 'inherit' });
const sha = execFileSync('git', ['-C', REPO, 'rev-parse', '--short', rev], { encoding: 'utf8' }).trim();
process.stdout.write(`${sha} built in ${dir}: TSBUILD_BIN=${join(dir, 'bin/tsbuild.js')}\n`);
