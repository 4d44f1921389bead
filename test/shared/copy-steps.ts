// Builders for COPY/ADD tests: instructions as the front end would hand
// them over (already expanded), temp trees, and reading a layer back.
// Shared by unit and integration tests (it needs no root), hence test/shared/.
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { AddInstruction, CopyInstruction, HeredocFile } from '../../src/build/index.js';
import type { CopyStep } from '../../src/build/copy/index.js';

const made: string[] = [];

export function tempDir(prefix = 'tsb-copy-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

export function cleanupTemp(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** A tree from a spec: `name/` dirs, `name -> target` links, other keys files. */
export function tree(root: string, spec: Record<string, string | null>): string {
  for (const [key, value] of Object.entries(spec)) {
    const link = /^(.*) -> (.*)$/.exec(key);
    if (link) {
      mkdirSync(dirname(join(root, link[1] as string)), { recursive: true });
      symlinkSync(link[2] as string, join(root, link[1] as string));
    } else if (key.endsWith('/')) {
      mkdirSync(join(root, key), { recursive: true });
    } else {
      mkdirSync(dirname(join(root, key)), { recursive: true });
      writeFileSync(join(root, key), value ?? '');
    }
  }
  return root;
}

export function copyIns(sources: string[], dest: string, over: Partial<CopyInstruction> = {}): CopyInstruction {
  return {
    kind: 'copy', line: 7, endLine: 7, source: `COPY ${sources.join(' ')} ${dest}`, sources, inline: [], dest, json: false,
    chown: null, chmod: null, link: false, exclude: [], from: null, parents: false, ...over,
  };
}

export function addIns(sources: string[], dest: string, over: Partial<AddInstruction> = {}): AddInstruction {
  return {
    kind: 'add', line: 9, endLine: 9, source: `ADD ${sources.join(' ')} ${dest}`, sources, inline: [], dest, json: false,
    chown: null, chmod: null, link: false, exclude: [], checksum: null, keepGitDir: false, unpack: null, ...over,
  };
}

export function heredoc(name: string, content: string): HeredocFile {
  return { name, content, expand: true, chomp: false, fileDescriptor: 0 };
}

export function contextStep(ins: CopyInstruction | AddInstruction, context: string, targetLayers: string[] = [], over: Partial<CopyStep> = {}): CopyStep {
  // ADD downloads go to a temp dir of the test's, removed with the others (not the shared /tmp).
  const downloads = ins.kind === 'add' && ins.sources.some((s) => /^https?:\/\//.test(s));
  return { instruction: ins, source: { kind: 'context', dir: context }, targetLayers, workdir: '/', containerfile: 'Containerfile', ...(downloads ? { tmpDir: tempDir('tsb-dl-') } : {}), ...over };
}

/** Every path in a layer dir: `d/` for dirs, `l -> t` for links, else the file with its content. */
export function listing(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(dir, prefix)).sort()) {
    const rel = prefix ? `${prefix}/${name}` : name;
    const st = lstatSync(join(dir, rel));
    if (st.isDirectory()) {
      out.push(`${rel}/`);
      out.push(...listing(dir, rel));
    } else if (st.isSymbolicLink()) {
      out.push(`${rel} -> ${readlinkSync(join(dir, rel))}`);
    } else {
      out.push(`${rel}=${readFileSync(join(dir, rel), 'utf8')}`);
    }
  }
  return out;
}

export function modeOf(path: string): number {
  return lstatSync(path).mode & 0o7777;
}
