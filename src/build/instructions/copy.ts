// COPY and ADD: sources, a destination, and their flags. Heredoc sources
// (`COPY <<EOF /etc/app.conf`) become inline files; everything else stays a
// path (or URL for ADD) as written, expanded later. Whether `--from` names a
// stage or an image is decided when stages are resolved (./graph.ts).
import { fail } from '../parser/located-error.js';
import { parseHeredocWord } from '../parser/heredoc.js';
import { parseFlags, type ParsedFlags } from './flags.js';
import { type ParseRequest, sourceRange } from './request.js';
import { heredocFile } from './run.js';
import type { AddInstruction, CopyInstruction, HeredocFile } from './types.js';

export function parseCopy(req: ParseRequest): CopyInstruction {
  const flags = parseFlags('COPY', req.node.flags, {
    from: 'string', chown: 'string', chmod: 'string', link: 'bool', parents: 'bool', exclude: 'list',
  });
  return { kind: 'copy', ...common(req, flags), from: flags.string('from'), parents: flags.bool('parents') ?? false };
}

export function parseAdd(req: ParseRequest): AddInstruction {
  const flags = parseFlags('ADD', req.node.flags, {
    chown: 'string', chmod: 'string', checksum: 'string', 'keep-git-dir': 'bool', link: 'bool', exclude: 'list', unpack: 'bool',
  });
  const add: AddInstruction = {
    kind: 'add', ...common(req, flags), checksum: flags.string('checksum'),
    keepGitDir: flags.bool('keep-git-dir') ?? false, unpack: flags.bool('unpack'),
  };
  if (add.checksum !== null && add.sources.length + add.inline.length !== 1) fail('E_BAD_FLAG', 'ADD --checksum needs exactly one source');
  return add;
}

function common(req: ParseRequest, flags: ParsedFlags) {
  const { node, name } = req;
  if (node.args.length < 2) {
    fail('E_MISSING_ARG', node.args.length === 0
      ? `${name} requires one or more sources and a destination`
      : `${name} requires at least two arguments (sources and a destination), but only ${JSON.stringify(node.args[0])} was given`);
  }
  const dest = node.args.at(-1) as string;
  if (!node.json && parseHeredocWord(dest)) fail('E_BAD_HEREDOC', `${name} can't use a heredoc as its destination`);
  const sources: string[] = [];
  const inline: HeredocFile[] = [];
  for (const src of node.args.slice(0, -1)) {
    const header = node.json ? null : parseHeredocWord(src);
    const body = header && node.heredocs.find((h) => h.name === header.name);
    if (body) inline.push(heredocFile(body));
    else sources.push(src);
  }
  return {
    ...sourceRange(node), sources, inline, dest, json: node.json,
    chown: flags.string('chown'), chmod: flags.string('chmod'), link: flags.bool('link') ?? false, exclude: flags.list('exclude'),
  };
}
