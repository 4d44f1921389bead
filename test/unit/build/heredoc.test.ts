// Heredocs in every form docker accepts: `RUN <<EOF`, `<<-EOF` (tab
// stripping), quoted delimiters (no expansion), several heredocs in one
// instruction, `COPY <<EOF /dst`, `RUN python3 <<EOF`, file descriptors and
// ONBUILD; plus what is *not* a heredoc, and the unterminated error.
import { describe, expect, it } from 'vitest';
import { parseContainerfile } from '../../../src/build/parser/parser.js';
import { parseStages } from '../../../src/build/instructions/stages.js';
import { runScript } from '../../../src/build/instructions/run.js';
import { expandStage } from '../../../src/build/instructions/expand.js';
import type { CopyInstruction, OnbuildInstruction, RunInstruction } from '../../../src/build/instructions/types.js';

const file = 'Containerfile';
const lines = (...l: string[]): string => `${l.join('\n')}\n`;

function stageInstructions(source: string) {
  return parseStages(source, { file }).stages[0]?.instructions ?? [];
}

describe('heredocs in the parser stage', () => {
  const source = lines(
    'FROM alpine',              // 1
    'RUN <<EOF',                // 2
    'echo hello',               // 3
    '# not a comment here',     // 4
    'EOF',                      // 5
    'RUN <<-END',               // 6
    '\techo tabbed',            // 7
    '\t\tEND',                  // 8
    "RUN <<'EOF'",              // 9
    'echo $HOME',               // 10
    'EOF',                      // 11
    'RUN cat <<"A" && cat 3<<B', // 12
    'first $X',                 // 13
    'A',                        // 14
    'second',                   // 15
    'B',                        // 16
    'RUN echo done',            // 17
  );
  const nodes = parseContainerfile(source, { file }).nodes;

  it('captures bodies verbatim and counts them in the line range', () => {
    expect(nodes.map((n) => [n.startLine, n.endLine])).toEqual([[1, 1], [2, 5], [6, 8], [9, 11], [12, 16], [17, 17]]);
    expect(nodes[1]?.heredocs).toEqual([{ name: 'EOF', fileDescriptor: 0, expand: true, chomp: false, content: 'echo hello\n# not a comment here\n' }]);
  });

  it('ends <<- at a tab-indented delimiter and keeps the raw body', () => {
    expect(nodes[2]?.heredocs).toEqual([{ name: 'END', fileDescriptor: 0, expand: true, chomp: true, content: '\techo tabbed\n' }]);
  });

  it('does not expand bodies with a quoted delimiter', () => {
    expect(nodes[3]?.heredocs[0]).toMatchObject({ name: 'EOF', expand: false, content: 'echo $HOME\n' });
  });

  it('reads several heredocs of one instruction in order, with file descriptors', () => {
    expect(nodes[4]?.heredocs).toEqual([
      { name: 'A', fileDescriptor: 0, expand: false, chomp: false, content: 'first $X\n' },
      { name: 'B', fileDescriptor: 3, expand: true, chomp: false, content: 'second\n' },
    ]);
  });

  it('ignores heredoc-looking words that are quoted, escaped, or in exec form', () => {
    const n = parseContainerfile(lines('FROM a', 'RUN echo "<<EOF"', "RUN echo '<<EOF'", 'RUN echo \\<<EOF', 'RUN ["cat", "<<EOF"]', 'USER <<EOF', 'EOF'), { file }).nodes;
    expect(n.map((x) => x.heredocs.length)).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(n).toHaveLength(7); // the last `EOF` is an (unknown) instruction of its own
  });

  it('reports an unterminated heredoc at the instruction line', () => {
    expect(() => parseContainerfile(lines('FROM a', 'RUN true', 'RUN <<EOF', 'echo never ends'), { file })).toThrow(
      expect.objectContaining({ code: 'E_HEREDOC_UNTERMINATED', location: { file, line: 3 } }),
    );
  });

  it('rejects a half-quoted delimiter', () => {
    expect(() => parseStages(lines('FROM a', "COPY <<'EOF /x"), { file })).toThrow(
      expect.objectContaining({ code: 'E_BAD_HEREDOC', location: { file, line: 2 } }),
    );
  });
});

describe('heredocs in typed instructions', () => {
  it('RUN <<EOF runs the body as the script', () => {
    const [run] = stageInstructions(lines('FROM a', 'RUN <<EOF', 'set -e', 'echo hi', 'EOF')) as RunInstruction[];
    expect(run?.command).toEqual({ form: 'shell', args: ['<<EOF'] });
    expect(run?.heredocs).toEqual([{ name: 'EOF', content: 'set -e\necho hi\n', expand: true, chomp: false, fileDescriptor: 0 }]);
    expect(runScript(run as RunInstruction)).toEqual({ kind: 'shell', script: 'set -e\necho hi\n' });
  });

  it('RUN <<EOF with a shebang becomes a script file', () => {
    const [run] = stageInstructions(lines('FROM a', 'RUN <<EOF', '#!/usr/bin/env python3', 'print(1)', 'EOF')) as RunInstruction[];
    expect(runScript(run as RunInstruction)).toEqual({ kind: 'file', content: '#!/usr/bin/env python3\nprint(1)\n' });
  });

  it('RUN python3 <<EOF hands the shell the command line and the body', () => {
    const [run] = stageInstructions(lines('FROM a', 'RUN python3 <<EOF', 'print("hi")', 'EOF')) as RunInstruction[];
    expect(runScript(run as RunInstruction)).toEqual({ kind: 'shell', script: 'python3 <<EOF\nprint("hi")\nEOF' });
  });

  it('two heredocs in one RUN are both passed on', () => {
    const [run] = stageInstructions(lines('FROM a', 'RUN cat <<A > /a && cat <<-B > /b', 'aaa', 'A', '\tbbb', '\tB')) as RunInstruction[];
    expect(run?.heredocs.map((h) => [h.name, h.content])).toEqual([['A', 'aaa\n'], ['B', 'bbb\n']]);
    expect(runScript(run as RunInstruction)).toEqual({ kind: 'shell', script: 'cat <<A > /a && cat <<-B > /b\naaa\nA\nbbb\nB' });
  });

  it('<<- strips leading tabs from the body', () => {
    const [run] = stageInstructions(lines('FROM a', 'RUN <<-EOF', '\t\tindented', '\tEOF')) as RunInstruction[];
    expect(run?.heredocs[0]?.content).toBe('indented\n');
  });

  it('COPY <<EOF /dst makes an inline file', () => {
    const [copy] = stageInstructions(lines('FROM a', 'COPY <<EOF /etc/app.conf', 'port=$PORT', 'EOF')) as CopyInstruction[];
    expect(copy).toMatchObject({ kind: 'copy', sources: [], dest: '/etc/app.conf' });
    expect(copy?.inline).toEqual([{ name: 'EOF', content: 'port=$PORT\n', expand: true, chomp: false, fileDescriptor: 0 }]);
  });

  it('COPY mixes heredoc and path sources', () => {
    const [copy] = stageInstructions(lines('FROM a', 'COPY <<one app.txt <<two /dir/', '1', 'one', '2', 'two')) as CopyInstruction[];
    expect(copy?.sources).toEqual(['app.txt']);
    expect(copy?.inline.map((h) => [h.name, h.content])).toEqual([['one', '1\n'], ['two', '2\n']]);
  });

  it('expands COPY heredoc bodies only when the delimiter is unquoted', () => {
    const cf = parseStages(lines('FROM a', 'ARG PORT=8080', 'COPY <<EOF /a', 'port=$PORT "q"', 'EOF', "COPY <<'EOF' /b", 'port=$PORT', 'EOF'), { file });
    const steps = expandStage(cf.stages[0]!, { file, escapeToken: '\\', buildArgs: new Map(), globalScope: new Map(), baseEnv: new Map() });
    expect((steps[1]?.instruction as CopyInstruction).inline[0]?.content).toBe('port=8080 "q"\n');
    expect((steps[2]?.instruction as CopyInstruction).inline[0]?.content).toBe('port=$PORT\n');
  });

  it('refuses a heredoc as the destination', () => {
    expect(() => parseStages(lines('FROM a', 'COPY a <<EOF', 'x', 'EOF'), { file })).toThrow(
      expect.objectContaining({ code: 'E_BAD_HEREDOC', location: { file, line: 2 } }),
    );
  });

  it('ONBUILD RUN <<EOF gives the trigger its body', () => {
    const [onbuild] = stageInstructions(lines('FROM a', 'ONBUILD RUN <<EOF', 'make', 'EOF')) as OnbuildInstruction[];
    expect(onbuild?.trigger).toMatchObject({ kind: 'run', heredocs: [{ name: 'EOF', content: 'make\n' }] });
    expect(onbuild?.expression).toBe('RUN <<EOF\nmake\nEOF');
  });
});
