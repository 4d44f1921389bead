// Which sources a COPY/ADD names: heredocs, URLs, archives to unpack, and
// paths in the source tree with filepath.Match wildcards per segment.
//
// A named source is resolved with its links followed (docker and buildah
// copy what `COPY link /x` points at, named after the link); entries found
// later while walking a copied directory are never followed. Paths hidden by
// the context's ignore file do not exist for the build (an error naming the
// ignore file), except an ignored directory that an exception rule reaches
// into. A wildcard may match nothing; a plain path may not.
import { pathComponents } from '../../image/layer-view.js';
import { cleanPath, compileSegment, hasWildcard } from '../context/pattern.js';
import { archiveCompression } from './archive.js';
import { type CopyStep, type SourceItem, type SourceTree, stepError, stepName } from './types.js';
import type { Stats } from 'node:fs';
import type { TsbuildError } from '../../errors.js';

export function isUrl(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

interface Match {
  /** Components as written, `..` applied lexically (for names and --parents). */
  lex: string[];
  canonical: string;
  stat: Stats;
}

function lexJoin(lex: string[], part: string): string[] {
  if (part === '..') return lex.slice(0, -1);
  return [...lex, part];
}

/** Expand one source path into the entries it names (wildcards per segment, links followed inside the tree). */
function expand(tree: SourceTree, parts: string[]): Match[] {
  let states: { lex: string[]; canonical: string }[] = [{ lex: [], canonical: '/' }];
  for (const part of parts) {
    const next: { lex: string[]; canonical: string }[] = [];
    if (!hasWildcard(part)) {
      for (const s of states) next.push({ lex: lexJoin(s.lex, part), canonical: tree.resolve(`${s.canonical}/${part}`, true) });
    } else {
      const re = compileSegment(part);
      for (const s of states) {
        if (!tree.lstat(s.canonical)?.isDirectory()) continue;
        for (const name of tree.readdir(s.canonical)) {
          if (!re.test(name)) continue;
          const here = s.canonical === '/' ? `/${name}` : `${s.canonical}/${name}`;
          const st = tree.lstat(here);
          if (!st || tree.hidden(here, st)) continue;
          next.push({ lex: [...s.lex, name], canonical: tree.resolve(here, true) });
        }
      }
    }
    states = next;
  }
  const out: Match[] = [];
  for (const s of states) {
    const st = tree.lstat(s.canonical);
    if (st && !tree.hidden(s.canonical, st)) out.push({ lex: s.lex, canonical: s.canonical, stat: st });
  }
  return out;
}

/** The name a URL's file gets: its last path segment, as docker does. */
export function urlFileName(step: CopyStep, url: string): string {
  let name = '';
  try {
    name = decodeURIComponent(new URL(url).pathname.split('/').filter(Boolean).at(-1) ?? '');
  } catch {
    throw stepError(step, 'E_BAD_URL', `invalid URL ${url}`);
  }
  if (name === '' || name === '.' || name === '..' || name.includes('/')) {
    throw stepError(step, 'E_BAD_URL', `cannot determine a file name from the URL ${url}: give a destination file name`);
  }
  return name;
}

/** With --parents, the part of a source path after a `/./` marker is what is kept (all of it without one). */
function keptPrefixLength(source: string): number {
  const marker = source.lastIndexOf('/./');
  if (marker < 0) return 0;
  return cleanPath(source.slice(0, marker)).split('/').filter((c) => c !== '' && c !== '.').length;
}

/**
 * The error for a named path that is not there: one the ignore file hides
 * says so and names the file (as buildah does; BuildKit says only "not
 * found", since its context never held it).
 */
function missingSource(step: CopyStep, tree: SourceTree, parts: string[]): TsbuildError {
  const shown = `"/${cleanPath(parts.join('/')).replace(/^\.$/, '')}"`;
  let exists = false;
  try {
    exists = tree.lstat(tree.resolve(`/${parts.join('/')}`, true)) !== undefined;
  } catch {
    // a link leading out of the context: report it as not found
  }
  if (exists && tree.ignoreFile !== undefined) {
    return stepError(step, 'E_SOURCE_EXCLUDED', `${shown}: not found: excluded from the build context by ${tree.ignoreFile}`);
  }
  const where = step.source.kind === 'layers' ? ' in the --from image'
    : step.source.none ? ': the build has no context (the Containerfile came from stdin; give a context directory or tar)' : '';
  return stepError(step, 'E_SOURCE_NOT_FOUND', `${shown}: not found${where}`);
}

/** Every source of the step, in order; E_SOURCE_NOT_FOUND for a path (not a wildcard) that names nothing. */
export async function selectSources(step: CopyStep, tree: SourceTree): Promise<SourceItem[]> {
  const ins = step.instruction;
  const items: SourceItem[] = ins.inline.map((heredoc) => ({ kind: 'inline' as const, heredoc, name: heredoc.name }));
  const isAdd = ins.kind === 'add';
  const parents = ins.kind === 'copy' && ins.parents;
  for (const written of ins.sources) {
    if (isUrl(written)) {
      if (!isAdd) throw stepError(step, 'E_SOURCE_IS_URL', `COPY can't take a URL (${written}): use ADD`);
      items.push({ kind: 'url', url: written, name: urlFileName(step, written) });
      continue;
    }
    if (isAdd && ins.checksum !== null) {
      throw stepError(step, 'E_BAD_FLAG', `ADD --checksum needs a URL source, not ${written}`);
    }
    const parts = pathComponents(written);
    let matches: Match[];
    try {
      matches = expand(tree, parts);
    } catch (err) {
      if ((err as { code?: string }).code === 'E_BAD_PATTERN') throw stepError(step, 'E_BAD_PATTERN', `${stepName(step)} source ${written}: ${(err as Error).message}`);
      throw err;
    }
    if (matches.length === 0) {
      // A wildcard that matches nothing copies nothing (BuildKit's
      // AllowEmptyWildcard; buildah 1.28 fails when a step's only sources
      // match nothing: we follow BuildKit). A path named without one must exist.
      if (parts.some(hasWildcard)) continue;
      throw missingSource(step, tree, parts);
    }
    const skip = keptPrefixLength(written);
    for (const m of matches) {
      const hostPath = m.stat.isFile() ? tree.hostPath(m.canonical) : '';
      const compression = isAdd && ins.unpack !== false && m.stat.isFile() ? await archiveCompression(hostPath) : null;
      if (compression !== null) {
        items.push({ kind: 'archive', path: m.canonical, hostPath, stat: m.stat, written, compression });
        continue;
      }
      items.push({
        kind: 'tree', path: m.canonical, stat: m.stat, name: m.lex.at(-1) ?? '', written, lex: m.lex,
        keep: parents ? m.lex.slice(skip).join('/') : null,
      });
    }
  }
  return items;
}
