// What `tsbuild build` reads: the context and the Containerfile, from the
// places docker and buildx accept (docker cli/command/image/build.go,
// buildx build/build.go):
//   build DIR                     the directory; -f FILE (relative to the
//                                 working directory) or DIR/Containerfile,
//                                 then DIR/Dockerfile
//   build -f - DIR                the Containerfile from stdin, DIR as context
//   build - < context.tar[.gz…]   the tar is the context; -f names a file in it;
//                                 its .dockerignore is not applied (as docker)
//   build - < Containerfile       no context at all; -f is ignored (as docker)
// Every failure is one line. A context read from stdin lives in the store's
// tmp until `dispose` (also run on Ctrl-C/SIGTERM) removes it.
import { realpathSync, statSync } from 'node:fs';
import { basename, join, posix, resolve, sep } from 'node:path';
import type { CliContext } from './context.js';
import { onInterrupt } from './interrupt.js';
import { describeErrno, TsbuildError, usageError } from '../errors.js';

export interface BuildInput {
  contextDir: string;
  /** The Containerfile's path (unused when `containerfileText` is set). */
  containerfile: string;
  containerfileText?: string;
  /** How errors name the Containerfile. */
  displayFile: string;
  /** The build has no context (the Containerfile came from stdin). */
  noContext?: boolean;
  /** The context came as a tar on stdin: its .dockerignore is not applied (see BuildOptions.contextIsTar). */
  contextIsTar?: boolean;
  /** Remove what reading the input made; idempotent. */
  dispose(): void;
}

const nothing = (): void => {};

export async function readBuildInput(ctx: CliContext, context: string, file: string | undefined, stdinStream?: NodeJS.ReadStream): Promise<BuildInput> {
  // process.stdin is a getter that makes the stream (~1 ms): only when stdin is read.
  const stdin = (): NodeJS.ReadStream => stdinStream ?? process.stdin;
  if (context === '-' && file === '-') throw usageError("can't read both the build context and the Containerfile from stdin (- and -f -)");
  if (context === '-' || file === '-') {
    if (stdin().isTTY) {
      throw usageError(context === '-' ? 'the build context is "-" but stdin is a terminal: pipe a context tar or a Containerfile into it' : '-f - reads the Containerfile from stdin, but stdin is a terminal');
    }
  }
  if (context === '-') return fromStdin(ctx, file, stdin());

  const contextDir = resolve(context);
  let isDir = false;
  try {
    isDir = statSync(contextDir).isDirectory();
  } catch (err) {
    throw usageError(`the build context ${context} cannot be read: ${describeErrno(err)}`);
  }
  if (!isDir) throw usageError(`the build context ${context} is not a directory (a tar goes on stdin: tsbuild build - < ${context})`);
  if (file === '-') {
    const { readStdinText, STDIN_NAME } = await import('../build/context/stdin.js');
    return { contextDir, containerfile: '-', containerfileText: await readStdinText(stdin()), displayFile: STDIN_NAME, dispose: nothing };
  }
  const { findContainerfile } = await import('../build/instructions/frontend.js');
  const path = file ?? (await findContainerfile(context));
  // Errors name the file as the user gave it, or just its name when found in the context (as docker).
  return { contextDir, containerfile: resolve(path), displayFile: file ?? basename(path), dispose: nothing };
}

async function fromStdin(ctx: CliContext, file: string | undefined, stdin: NodeJS.ReadStream): Promise<BuildInput> {
  const { usingStore } = await import('../store/index.js');
  const { readStdinContext, STDIN_NAME } = await import('../build/context/stdin.js');
  // Opening the store makes its tmp/ and clears what killed builds left there.
  await usingStore(ctx.root, async () => {});
  let release = nothing;
  let input: Awaited<ReturnType<typeof readStdinContext>>;
  try {
    input = await readStdinContext(stdin, join(ctx.root, 'tmp'), (dispose) => { release = onInterrupt(dispose); });
  } catch (err) {
    release(); // the reader removed its temp dir already
    throw err;
  }
  const dispose = (): void => { input.dispose(); release(); };
  try {
    if (input.containerfileText !== undefined) {
      if (file !== undefined) ctx.log.warn(`-f ${file} is ignored: stdin held a Containerfile, not a context tar`);
      return { contextDir: input.contextDir, containerfile: '-', containerfileText: input.containerfileText, displayFile: STDIN_NAME, noContext: true, dispose };
    }
    return { contextDir: input.contextDir, ...(await containerfileInTar(input.contextDir, file)), contextIsTar: true, dispose };
  } catch (err) {
    dispose();
    throw err;
  }
}

/** `-f` inside a context tar names a path in the tar; it and the default names must stay inside it. */
async function containerfileInTar(contextDir: string, file: string | undefined): Promise<{ containerfile: string; displayFile: string }> {
  let path: string;
  if (file !== undefined) {
    path = join(contextDir, posix.resolve('/', file));
  } else {
    const { findContainerfile } = await import('../build/instructions/frontend.js');
    try {
      path = await findContainerfile(contextDir);
    } catch {
      throw new TsbuildError('E_NO_CONTAINERFILE', 'the context tar on stdin holds no Containerfile or Dockerfile (use -f PATH-IN-TAR)');
    }
  }
  const displayFile = file ?? basename(path);
  let real: string;
  try {
    real = realpathSync(path);
  } catch (err) {
    throw new TsbuildError('E_NO_CONTAINERFILE', `cannot read the Containerfile in the context tar: ${describeErrno(err)}`, { location: { file: displayFile } });
  }
  const base = realpathSync(contextDir);
  if (!real.startsWith(base + sep)) {
    throw new TsbuildError('E_NO_CONTAINERFILE', 'the Containerfile in the context tar is a link that leaves the context', { location: { file: displayFile } });
  }
  return { containerfile: real, displayFile };
}
