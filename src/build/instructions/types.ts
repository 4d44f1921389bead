// The typed instructions: what the build engine works from. A discriminated
// union on `kind`, one member per Containerfile instruction, each holding its
// arguments and flags already checked and split, but not yet expanded: strings
// are kept as written (quotes included) so that expansion (./expand.ts) can
// apply docker's word rules later, with the build args and environment of the
// step. The engine should never need the raw text.

/** The physical lines an instruction came from (1-based, inclusive). */
export interface SourceRange {
  line: number;
  endLine: number;
  /** The instruction as written, continuation lines joined (for progress output). */
  source: string;
}

/** RUN, CMD, ENTRYPOINT and HEALTHCHECK CMD command lines. */
export interface CommandLine {
  /** `exec`: a JSON array, run as is. `shell`: one string, run with the SHELL. */
  form: 'exec' | 'shell';
  /** The argv for `exec`; a single element (the command text) for `shell`. */
  args: string[];
}

/** A heredoc body attached to RUN, ADD or COPY. */
export interface HeredocFile {
  name: string;
  /** The body, with leading tabs already removed for `<<-`. */
  content: string;
  /** Variables in the body are expanded (the delimiter was not quoted). */
  expand: boolean;
  chomp: boolean;
  /** 0 is stdin; `3<<EOF` gives 3. */
  fileDescriptor: number;
}

export interface FromInstruction extends SourceRange {
  kind: 'from';
  /** Image reference, stage name or `scratch`, before expansion of global ARGs. */
  image: string;
  /** Lower-cased, as docker compares stage names case-insensitively. */
  stageName: string | null;
  platform: string | null;
}

export type MountType = 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';

/** One `RUN --mount=…` (buildkit's mount options, parsed). */
export interface RunMount {
  /** The flag value as written, re-parsed after expansion. */
  spec: string;
  type: MountType;
  target: string | null;
  source: string | null;
  /** Stage name, stage index or image the bind/cache source comes from. */
  from: string | null;
  /** Cache id (defaults to the target) or secret id. */
  id: string | null;
  sharing: 'shared' | 'private' | 'locked' | null;
  mode: number | null;
  uid: number | null;
  gid: number | null;
  readonly: boolean;
  /** Secret/ssh: fail when the secret is not provided. */
  required: boolean;
  /** tmpfs size in bytes. */
  size: number | null;
  /** Secret exposed as this environment variable. */
  env: string | null;
  /** buildah's `U`: the mount belongs to the step's USER (uid/gid), as podman's `:U` chowns a volume. */
  chownToUser: boolean;
  /** buildah's `tmpcopyup` (tmpfs only): the tmpfs starts with the image's content at the target. */
  copyUp: boolean;
}

export interface RunInstruction extends SourceRange {
  kind: 'run';
  command: CommandLine;
  heredocs: HeredocFile[];
  mounts: RunMount[];
  network: 'default' | 'none' | 'host' | null;
  security: 'insecure' | 'sandbox' | null;
}

export interface CmdInstruction extends SourceRange {
  kind: 'cmd';
  command: CommandLine;
}

export interface EntrypointInstruction extends SourceRange {
  kind: 'entrypoint';
  command: CommandLine;
}

export interface ShellInstruction extends SourceRange {
  kind: 'shell';
  shell: string[];
}

export interface KeyValue {
  key: string;
  value: string;
}

export interface LabelInstruction extends SourceRange {
  kind: 'label';
  labels: KeyValue[];
}

export interface EnvInstruction extends SourceRange {
  kind: 'env';
  env: KeyValue[];
}

export interface MaintainerInstruction extends SourceRange {
  kind: 'maintainer';
  maintainer: string;
}

export interface PortSpec {
  start: number;
  /** Equal to start unless a range (`8000-8010`) was given. */
  end: number;
  protocol: 'tcp' | 'udp' | 'sctp';
}

export interface ExposedPort {
  /** The word as written (`80/tcp`, `$PORT`). */
  text: string;
  /** Physical line of the word, for errors found after expansion. */
  line: number;
  /** Parsed and checked; null while the word still holds variables. */
  spec: PortSpec | null;
}

export interface ExposeInstruction extends SourceRange {
  kind: 'expose';
  ports: ExposedPort[];
}

interface FileCopyBase extends SourceRange {
  /** Source paths (or URLs for ADD), as written. */
  sources: string[];
  /** Heredoc sources (`COPY <<EOF /dst`), in order. */
  inline: HeredocFile[];
  dest: string;
  /** Sources and destination came from a JSON array. */
  json: boolean;
  chown: string | null;
  chmod: string | null;
  link: boolean;
  exclude: string[];
}

export interface CopyInstruction extends FileCopyBase {
  kind: 'copy';
  /** `--from`: a stage name, a stage index or an image reference. */
  from: string | null;
  parents: boolean;
}

export interface AddInstruction extends FileCopyBase {
  kind: 'add';
  checksum: string | null;
  keepGitDir: boolean;
  /** `--unpack`: null leaves docker's default (unpack local archives, not URLs). */
  unpack: boolean | null;
}

export interface VolumeInstruction extends SourceRange {
  kind: 'volume';
  paths: string[];
}

export interface UserInstruction extends SourceRange {
  kind: 'user';
  user: string;
}

export interface WorkdirInstruction extends SourceRange {
  kind: 'workdir';
  path: string;
}

export interface ArgDeclaration {
  name: string;
  /** As written (quotes kept); null for `ARG NAME`. */
  defaultValue: string | null;
}

export interface ArgInstruction extends SourceRange {
  kind: 'arg';
  args: ArgDeclaration[];
}

export interface OnbuildInstruction extends SourceRange {
  kind: 'onbuild';
  /** The trigger, parsed like any instruction so errors show up now, not in a child build. */
  trigger: StageInstruction;
  /** The trigger's text as stored in the image config (`RUN make`), heredoc bodies included. */
  expression: string;
}

export interface StopsignalInstruction extends SourceRange {
  kind: 'stopsignal';
  signal: string;
}

export interface HealthcheckInstruction extends SourceRange {
  kind: 'healthcheck';
  /** `none` disables a health check inherited from the base image. */
  test: { type: 'none' } | { type: 'cmd'; command: CommandLine };
  /** Durations in nanoseconds, as the image config stores them; null when not given. */
  interval: number | null;
  timeout: number | null;
  startPeriod: number | null;
  startInterval: number | null;
  retries: number | null;
}

/** Everything that may appear inside a stage (after its FROM). */
export type StageInstruction =
  | RunInstruction | CmdInstruction | EntrypointInstruction | ShellInstruction | LabelInstruction
  | EnvInstruction | MaintainerInstruction | ExposeInstruction | CopyInstruction | AddInstruction
  | VolumeInstruction | UserInstruction | WorkdirInstruction | ArgInstruction | OnbuildInstruction
  | StopsignalInstruction | HealthcheckInstruction;

export type Instruction = FromInstruction | StageInstruction;

export type InstructionKind = Instruction['kind'];
