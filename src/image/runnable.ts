// What the runtime needs from an image: its unpacked layer directories
// (bottom first) and its OCI config. The store (src/store) resolves names to
// this; the runtime (src/run) never looks inside the store itself.

/** The `config` object of an OCI image config (image-spec config.md). */
export interface OciContainerConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  // Docker extensions kept so that child builds behave as in docker.
  Shell?: string[];
  OnBuild?: string[] | null;
  Healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; StartInterval?: number; Retries?: number };
}

export interface RunnableImage {
  /** The image ID: the digest of its config blob (`sha256:…`), or `dir:<path>` for a plain directory. */
  id: string;
  /** The name the user gave, normalised (e.g. docker.io/library/busybox:latest). */
  name: string;
  /** Absolute paths of the unpacked layers, bottom layer first. */
  layerDirs: string[];
  config: OciContainerConfig;
}
