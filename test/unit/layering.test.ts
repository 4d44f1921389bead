// Issue 15: dependencies inside src/ point one way, cli → build → run → registry → image → store → native,
// with the shared leaves (errors, log, gather, reference, pid-alive, background-tasks, sha256, node-crypto, tls-ca) at the bottom. This test reads every
// src/**/*.ts with the TypeScript parser, keeps the imports that survive compilation (static
// `import … from`, `export … from`, side-effect `import '…'`, dynamic `import()`; type-only imports
// are erased by tsc and do not count) and fails on a file-level cycle (Tarjan's SCC), on any import
// of cli/ from below (type imports included: they tie a layer to the CLI's shape), and on a folder-level edge that points up. Each failure prints the chain.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../src');

// Higher imports lower; equal ranks would be siblings that may import each other (file cycles are
// still caught below), but none are left: run resolves and pulls the image it runs (registry), the
// registry client reads manifests and configs (image), and image/ uses neither.
const RANK: Record<string, number> = {
  cli: 7,
  build: 6,
  run: 5,
  registry: 4,
  image: 3,
  store: 2,
  native: 1,
  errors: 0, log: 0, gather: 0, reference: 0, 'pid-alive': 0, 'background-tasks': 0, sha256: 0, 'node-crypto': 0, 'tls-ca': 0,
};

interface Edge { from: string; to: string; line: number }

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** True when tsc erases the declaration: `import type`, or every named binding is `type`. */
function typeOnlyImport(node: ts.ImportDeclaration): boolean {
  const clause = node.importClause;
  if (!clause) return false; // `import './x.js'` runs the module
  if (clause.isTypeOnly) return true;
  if (clause.name) return false;
  const b = clause.namedBindings;
  return !!b && ts.isNamedImports(b) && b.elements.length > 0 && b.elements.every((e) => e.isTypeOnly);
}

function typeOnlyExport(node: ts.ExportDeclaration): boolean {
  if (node.isTypeOnly) return true;
  const c = node.exportClause;
  return !!c && ts.isNamedExports(c) && c.elements.length > 0 && c.elements.every((e) => e.isTypeOnly);
}

/** Imports of one file that resolve inside src/, as src-relative paths; type-only ones on request. */
function imports(file: string, withTypes = false): Edge[] {
  const text = readFileSync(file, 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const out: Edge[] = [];
  const add = (spec: ts.Expression, at: ts.Node) => {
    if (!ts.isStringLiteralLike(spec) || !spec.text.startsWith('.')) return;
    const target = resolve(dirname(file), spec.text).replace(/\.js$/, '.ts');
    out.push({ from: rel(file), to: rel(target), line: sf.getLineAndCharacterOfPosition(at.getStart()).line + 1 });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && (withTypes || !typeOnlyImport(node))) add(node.moduleSpecifier, node);
    else if (ts.isExportDeclaration(node) && node.moduleSpecifier && (withTypes || !typeOnlyExport(node))) add(node.moduleSpecifier, node);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0]) {
      add(node.arguments[0], node);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

function rel(p: string): string {
  return relative(SRC, p).split(sep).join('/');
}

/** The top-level folder (or top-level file without .ts) a src-relative path belongs to. */
function area(p: string): string {
  return p.split('/')[0]!.replace(/\.ts$/, '');
}

/** Tarjan's strongly connected components; returns those with a cycle (size > 1 or a self-loop). */
function cycles(nodes: string[], next: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const strong = (v: string): void => {
    idx.set(v, index); low.set(v, index); index++;
    stack.push(v); onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!idx.has(w)) { strong(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do { w = stack.pop()!; onStack.delete(w); scc.push(w); } while (w !== v);
      if (scc.length > 1 || (next.get(v) ?? []).includes(v)) found.push(scc.sort());
    }
  };
  for (const v of nodes) if (!idx.has(v)) strong(v);
  return found;
}

/** One concrete loop inside an SCC, for the message: a → b → … → a. */
function chainIn(scc: string[], next: Map<string, string[]>): string[] {
  const members = new Set(scc);
  const start = scc[0]!;
  const prev = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const v = queue.shift()!;
    for (const w of next.get(v) ?? []) {
      if (!members.has(w)) continue;
      if (w === start) {
        const path = [v];
        while (path[0] !== start) path.unshift(prev.get(path[0]!)!);
        return [...path, start];
      }
      if (!prev.has(w)) { prev.set(w, v); queue.push(w); }
    }
  }
  return scc;
}

const files = sourceFiles(SRC).map(rel).sort();
const edges = files.flatMap((f) => imports(join(SRC, f)));
// A type from cli/ ties a lower layer to the CLI's shape too, so the cli rule counts type imports.
const typeEdges = files.flatMap((f) => imports(join(SRC, f), true));
const next = new Map<string, string[]>();
for (const e of edges) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
const show = (e: Edge) => `${e.from}:${e.line} → ${e.to}`;

describe('src/ layering (issue 15)', () => {
  it('sees the source tree and its imports', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(edges.length).toBeGreaterThan(100);
    for (const e of edges) expect(files, `${show(e)} resolves to no file`).toContain(e.to);
    for (const f of files) expect(RANK, `${f}: top-level area "${area(f)}" has no rank`).toHaveProperty(area(f));
  });

  it('has no module cycle', () => {
    const loops = cycles(files, next).map((scc) => chainIn(scc, next).join(' → '));
    expect(loops, `import cycles:\n  ${loops.join('\n  ')}`).toEqual([]);
  });

  it('never imports cli/ from below', () => {
    const bad = typeEdges.filter((e) => area(e.to) === 'cli' && area(e.from) !== 'cli').map(show);
    expect(bad, `imports of cli/:\n  ${bad.join('\n  ')}`).toEqual([]);
  });

  it('points every folder-level edge down the order', () => {
    const bad = edges
      .filter((e) => area(e.from) !== area(e.to) && RANK[area(e.to)]! > RANK[area(e.from)]!)
      .map((e) => `${area(e.from)} → ${area(e.to)}: ${show(e)}`);
    expect(bad, `upward imports:\n  ${bad.join('\n  ')}`).toEqual([]);
  });

  it('keeps the store contract apart from its implementation', () => {
    // store/types.ts is the contract (types only); store/index.ts exports it and opens a store.
    // A store module that imported index.ts would import the implementation it is part of.
    const back = typeEdges.filter((e) => e.from.startsWith('store/') && e.from !== 'store/index.ts' && e.to === 'store/index.ts').map(show);
    expect(back).toEqual([]);
    const runtime = edges.filter((e) => e.from === 'store/types.ts').map(show);
    expect(runtime, 'store/types.ts holds types only').toEqual([]);
  });
});
