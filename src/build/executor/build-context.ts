// Everything one build shares across its stages: options, the store, the
// cache, progress, and memoised results (built stages, images used by
// FROM or --from), so that each is resolved once even when stages run
// in parallel.
import type { Store } from '../../store/index.js';
import type { Platform } from '../../image/oci.js';
import type { IgnoreMatcher, SourceDateEpoch } from '../context/index.js';
import type { FileDigests } from '../copy/file-digests.js';
import type { ResourceLimits } from '../../run/limits.js';
import type { SecurityConfig } from '../../run/security.js';
import type { Logger } from '../../log.js';
import type { BuildPlan, Stage } from '../index.js';
import type { ResolvedImage } from '../../registry/index.js';
import type { BuildCache } from './cache.js';
import type { ImageState } from './image-state.js';
import type { Progress } from './progress.js';
import type { CacheExportSpec, CacheLocation } from '../cache/spec.js';
import type { CacheImports } from '../cache/import.js';
import type { UsedStep } from '../cache/export.js';

/**
 * Where a `--secret` comes from: a host file (bind-mounted read-only at
 * RUN), or a value taken from the environment when the CLI started (written
 * to a private temp file in the store's tmp for the one step that mounts it).
 */
export type SecretSource = { kind: 'file'; path: string } | { kind: 'value'; value: Buffer };

export interface BuildOptions {
  root: string;
  contextDir: string;
  /** The Containerfile's path on disk. */
  containerfile: string;
  /** The Containerfile's text when it came from stdin (`-f -`, `build - < Containerfile`); then `containerfile` is not read. */
  containerfileText?: string;
  /** No build context was given (`build - < Containerfile`): contextDir is empty, and COPY says why it finds nothing. */
  noContext?: boolean;
  /**
   * The context is a tar from stdin (`build - < context.tar`): no ignore file
   * applies. docker applies .dockerignore in its client, while it tars a
   * directory; a tar on stdin reaches the builder as it is, and BuildKit
   * reads excludes only for a local context (dockerui MainContext; BuildKit
   * 20.10 copies the tar's ignored files, checked in the differential
   * corpus). buildah 1.28 applies the tar's .dockerignore: we follow BuildKit.
   */
  contextIsTar?: boolean;
  /** How errors name the file (as the user gave it). */
  displayFile: string;
  tags: string[];
  buildArgs: Map<string, string>;
  target?: string;
  noCache: boolean;
  pull: boolean;
  labels: Map<string, string>;
  network: 'host' | 'none';
  limits: ResourceLimits;
  secrets: Map<string, SecretSource>;
  /** --security-opt for every RUN step. */
  security?: SecurityConfig;
  /** --allow security.insecure: RUN --security=insecure may run. */
  allowInsecure?: boolean;
  tlsVerify?: boolean;
  /** `--platform`: the image's platform and the host's, for the platform ARGs, base images and RUN emulation (platforms.ts). */
  platform?: { target: Platform; build: Platform };
  /** Put before each stage's name in progress (the platform, when several build at once). */
  stagePrefix?: string;
  /** SOURCE_DATE_EPOCH: image times and new-layer mtimes (see history-times.ts); unset = now. */
  epoch?: SourceDateEpoch;
  log: Logger;
  /** --cache-from refs, in order: the first that has a step wins. */
  cacheFrom?: CacheLocation[];
  /** --cache-to targets, written after the image is recorded. */
  cacheTo?: CacheExportSpec[];
}

export interface StageResult {
  state: ImageState;
  /** The cache key of the stage's last step: what a stage built FROM it chains on. */
  key: string;
  /** Its retime key (retime.ts); absent when the stage's content may depend on the epoch. */
  retimeKey?: string;
  /** ARG values in force at the stage's end: a stage built FROM it inherits them (BuildKit). */
  args?: ReadonlyMap<string, string>;
}

export interface BuildContext {
  opts: BuildOptions;
  store: Store;
  cache: BuildCache;
  progress: Progress;
  plan: BuildPlan;
  /** Every stage of the file, in order (stage indexes in --from count all of them). */
  allStages: Stage[];
  escapeToken: string;
  stages: Map<number, Promise<StageResult>>;
  /** Content digests of context files, kept across builds in the store. */
  fileDigests: FileDigests;
  /** The context's .containerignore/.dockerignore rules. */
  ignore: IgnoreMatcher | undefined;
  images: Map<string, Promise<{ state: ImageState; id: string }>>;
  /** What each image reference names (resolved before any stage runs; see images.ts). */
  resolved: Map<string, Promise<ResolvedImage>>;
  /** The --cache-from entries, by step key. */
  imports: CacheImports;
  /** Every layer step this build used (ran or found cached), for --cache-to. */
  usedSteps: UsedStep[];
  /**
   * Aborted, with its error, when a stage fails: the other stages, which
   * run in parallel, stop before their next step and kill a running RUN.
   */
  cancel?: AbortSignal;
}
