// The command table. Each entry loads its module lazily: `tsbuild ps` must
// not pay for importing the registry client or the build engine.
import type { CliContext } from './context.js';

export interface Command {
  summary: string;
  load: () => Promise<{ run: (ctx: CliContext, argv: string[]) => Promise<number> }>;
}

export const commands: Record<string, Command> = {
  build: { summary: 'Build an image from a Containerfile', load: () => import('./cmd-build.js') },
  run: { summary: 'Run a command in a new container', load: () => import('./cmd-run.js') },
  from: { summary: 'Create a working container from an image', load: () => import('./cmd-from.js') },
  commit: { summary: "Create an image from a container's changes", load: () => import('./cmd-commit.js') },
  ps: { summary: 'List containers', load: () => import('./cmd-ps.js') },
  exec: { summary: 'Run a command in a running container', load: () => import('./cmd-exec.js') },
  stop: { summary: 'Stop containers (SIGTERM, then SIGKILL)', load: () => import('./cmd-lifecycle.js').then((m) => ({ run: m.stop })) },
  kill: { summary: 'Kill containers', load: () => import('./cmd-lifecycle.js').then((m) => ({ run: m.kill })) },
  rm: { summary: 'Remove containers', load: () => import('./cmd-lifecycle.js').then((m) => ({ run: m.rm })) },
  logs: { summary: 'Print the output of a detached container', load: () => import('./cmd-logs.js') },
  inspect: { summary: 'Print an image or container as JSON', load: () => import('./cmd-inspect.js') },
  parse: { summary: 'Parse and validate a Containerfile without running it', load: () => import('./cmd-parse.js') },
  pull: { summary: 'Pull an image from a registry', load: () => import('./cmd-pull.js') },
  push: { summary: 'Push an image to a registry', load: () => import('./cmd-push.js') },
  login: { summary: 'Log in to a registry', load: () => import('./cmd-login.js') },
  images: { summary: 'List images in the store', load: () => import('./cmd-images.js') },
  history: { summary: 'Show the history of an image, with the CPU and memory of its RUN steps', load: () => import('./cmd-history.js') },
  tag: { summary: 'Give an image another name', load: () => import('./cmd-tag.js') },
  rmi: { summary: 'Remove images', load: () => import('./cmd-rmi.js') },
  save: { summary: 'Save images to an OCI layout or a docker/OCI archive', load: () => import('./cmd-save.js') },
  load: { summary: 'Load images from an OCI layout or a docker/OCI archive', load: () => import('./cmd-load.js') },
  prune: { summary: 'Remove unused images, blobs and layers', load: () => import('./cmd-prune.js') },
  version: { summary: 'Print the version of tsbuild', load: () => import('./cmd-version.js') },
  manifest: { summary: 'Create, add to, inspect and push multi-platform images (buildah spelling)', load: () => import('./cmd-manifest.js') },
};
