// Reads an OCI image layout (as `buildah push IMG oci:DIR` or `tsbuild save
// --format oci-dir` write it) into what a differential test compares: the
// flattened root filesystem and the runtime config. The layers are applied
// in order to an in-memory map, honouring OCI whiteouts (`.wh.NAME` removes
// NAME from the layers below, `.wh..wh..opq` hides everything the layers
// below had in its directory), so two images built in different ways
// (different layer splits, tar orders, hard-link placements) compare by what
// a container would see. Independent of tsbuild's own code on purpose: the
// oracle must not share the implementation's mistakes.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { decompress as zstdDecompress } from 'fzstd';
import * as tar from 'tar-stream';

export type EntryType = 'file' | 'dir' | 'symlink' | 'fifo' | 'char' | 'block';

export interface FsEntry {
  type: EntryType;
  /** Permission bits including setuid, setgid and sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** sha256 of a regular file's content. */
  sha256?: string;
  /** A small text file's content, shown when it differs (never compared: sha256 is). */
  text?: string;
  /** A symlink's target. */
  link?: string;
  /** A device node's numbers. */
  dev?: string;
  /** Identity of the inode a tar entry made: hard links share it. */
  inode?: number;
  /** The other paths that are hard links to the same file (filled in by readLayout). */
  links?: string;
}

export type Rootfs = Map<string, FsEntry>;

export interface ImageDescription {
  rootfs: Rootfs;
  config: OciConfig;
  diffIds: string[];
  /** Layer digests, in order. */
  layers: string[];
  /** The raw image config (history, os, …). */
  rawConfig: Record<string, unknown>;
  /** Per layer: the paths it contains (after stripping ./ and trailing /), for layer-level checks. */
  layerPaths: string[][];
}

export interface OciConfig {
  Env?: string[] | null;
  Cmd?: string[] | null;
  Entrypoint?: string[] | null;
  WorkingDir?: string;
  User?: string;
  Labels?: Record<string, string> | null;
  ExposedPorts?: Record<string, object> | null;
  Volumes?: Record<string, object> | null;
  StopSignal?: string;
  [k: string]: unknown;
}

interface Descriptor { mediaType: string; digest: string; size: number; annotations?: Record<string, string> }

function blob(layout: string, digest: string): Buffer {
  const [alg, hex] = digest.split(':') as [string, string];
  const data = readFileSync(join(layout, 'blobs', alg, hex));
  const got = `${alg}:${createHash(alg).update(data).digest('hex')}`;
  if (got !== digest) throw new Error(`blob ${digest} in ${layout} hashes to ${got}`);
  return data;
}

function decompress(mediaType: string, data: Buffer): Buffer {
  // Go by the bytes too: some writers label gzip layers as plain tar.
  if (data[0] === 0x1f && data[1] === 0x8b) return gunzipSync(data);
  if (data.readUInt32LE(0) === 0xfd2fb528) return Buffer.from(zstdDecompress(data));
  if (/gzip|zstd/.test(mediaType)) throw new Error(`layer of type ${mediaType} is not compressed as it says`);
  return data;
}

/** `./a/b/` → `/a/b`; `.` → `/`. */
export function normalisePath(name: string): string {
  const p = posix.normalize(`/${name}`).replace(/\/+$/, '');
  return p === '' ? '/' : p;
}

/** The tar entries of one uncompressed layer, in order, with their contents. */
export async function readTar(data: Buffer): Promise<Array<{ header: tar.Header; body: Buffer }>> {
  const extract = tar.extract();
  const out: Array<{ header: tar.Header; body: Buffer }> = [];
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => { chunks.push(c as Buffer); });
      stream.on('end', () => { out.push({ header, body: Buffer.concat(chunks) }); next(); });
      stream.on('error', reject);
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  extract.end(data);
  await done;
  return out;
}

function removeTree(fs: Rootfs, path: string, keepSelf: boolean): void {
  if (!keepSelf) fs.delete(path);
  const prefix = path === '/' ? '/' : `${path}/`;
  for (const p of [...fs.keys()]) if (p.startsWith(prefix) && p !== path) fs.delete(p);
}

let nextInode = 1;

const TYPES: Record<string, EntryType | undefined> = { file: 'file', 'contiguous-file': 'file', directory: 'dir', symlink: 'symlink', fifo: 'fifo', 'character-device': 'char', 'block-device': 'block' };

/** Applies one layer's tar to `fs` (mutated); returns the paths the layer names. */
export async function applyLayer(fs: Rootfs, layerTar: Buffer): Promise<string[]> {
  const entries = await readTar(layerTar);
  const names: string[] = [];
  // Whiteouts hide what the layers *below* had, whatever their position in
  // this tar: apply them first, then the layer's own entries.
  for (const { header } of entries) {
    const path = normalisePath(header.name);
    const base = posix.basename(path);
    const dir = posix.dirname(path);
    if (base === '.wh..wh..opq') removeTree(fs, dir, true);
    else if (base.startsWith('.wh.')) removeTree(fs, posix.join(dir, base.slice(4)), false);
  }
  for (const { header, body } of entries) {
    const path = normalisePath(header.name);
    names.push(path);
    if (posix.basename(path).startsWith('.wh.')) continue;
    const common = { mode: (header.mode ?? 0) & 0o7777, uid: header.uid ?? 0, gid: header.gid ?? 0 };
    let entry: FsEntry;
    if (header.type === 'link') {
      const target = normalisePath(header.linkname ?? '');
      const t = fs.get(target);
      if (!t || t.type !== 'file') throw new Error(`hard link ${path} → ${target}: target is not a file written before it`);
      // A hard link shares the inode: its metadata is the target's.
      entry = { ...t };
    } else {
      const type = TYPES[header.type ?? 'file'];
      if (!type) throw new Error(`unexpected tar entry type ${header.type} for ${path}`);
      entry = { ...common, type, size: type === 'file' ? body.length : 0 };
      if (type === 'file') {
        entry.sha256 = createHash('sha256').update(body).digest('hex');
        if (body.length <= 200 && !body.includes(0)) entry.text = body.toString('utf8');
        entry.inode = nextInode++;
      }
      if (type === 'symlink') entry.link = header.linkname ?? '';
      if (type === 'char' || type === 'block') entry.dev = `${header.devmajor ?? 0}:${header.devminor ?? 0}`;
    }
    const before = fs.get(path);
    // A non-directory replaces a directory with all it held.
    if (before?.type === 'dir' && entry.type !== 'dir') removeTree(fs, path, false);
    fs.set(path, entry);
  }
  return names;
}

/** Records on each file the other paths that still share its inode (hard links). */
export function linkGroups(fs: Rootfs): void {
  const byInode = new Map<number, string[]>();
  for (const [p, e] of fs) if (e.inode !== undefined) byInode.set(e.inode, [...(byInode.get(e.inode) ?? []), p]);
  for (const paths of byInode.values()) {
    if (paths.length < 2) continue;
    for (const p of paths) {
      const e = fs.get(p) as FsEntry;
      fs.set(p, { ...e, links: paths.filter((q) => q !== p).sort().join(',') });
    }
  }
}

/** Reads the (single-manifest) OCI layout at `layout`. */
export async function readLayout(layout: string): Promise<ImageDescription> {
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  if (index.manifests.length !== 1) throw new Error(`${layout}: expected one manifest, found ${index.manifests.length}`);
  const manifest = JSON.parse(blob(layout, index.manifests[0]!.digest).toString('utf8')) as { config: Descriptor; layers: Descriptor[] };
  const rawConfig = JSON.parse(blob(layout, manifest.config.digest).toString('utf8')) as RawConfig;
  const layers = manifest.layers.map((l) => ({ digest: l.digest, tar: decompress(l.mediaType, blob(layout, l.digest)) }));
  return describeImage(layout, rawConfig, layers);
}

/** An image config as written (OCI or docker): the runtime config and the layers' diff_ids. */
export interface RawConfig { config?: OciConfig; rootfs: { diff_ids: string[] } }

/**
 * Flattens uncompressed layer tars (in order) into what a differential test
 * compares, checking them against the config's diff_ids; `where` names the
 * image in errors. Shared by the OCI-layout and docker-archive readers.
 */
export async function describeImage(where: string, rawConfig: RawConfig, layers: Array<{ digest: string; tar: Buffer }>): Promise<ImageDescription> {
  const rootfs: Rootfs = new Map([['/', { type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0 }]]);
  const diffIds: string[] = [];
  const layerPaths: string[][] = [];
  for (const l of layers) {
    diffIds.push(`sha256:${createHash('sha256').update(l.tar).digest('hex')}`);
    layerPaths.push(await applyLayer(rootfs, l.tar));
  }
  linkGroups(rootfs);
  if (JSON.stringify(diffIds) !== JSON.stringify(rawConfig.rootfs.diff_ids)) {
    throw new Error(`${where}: layer diff_ids ${diffIds.join(',')} do not match the config's ${rawConfig.rootfs.diff_ids.join(',')}`);
  }
  return { rootfs, config: rawConfig.config ?? {}, diffIds, layers: layers.map((l) => l.digest), rawConfig: rawConfig as unknown as Record<string, unknown>, layerPaths };
}

/**
 * The config fields a differential test compares, with absent and empty made
 * equal. `docker` adds the fields of docker's image config that the OCI
 * config has no place for (Shell, Healthcheck, OnBuild): compared with
 * BuildKit, whose images are docker's, not with buildah's OCI format.
 */
export function comparableConfig(c: OciConfig, opts: { docker?: boolean } = {}): Record<string, unknown> {
  const list = (v: string[] | null | undefined): string[] => v ?? [];
  const keys = (v: Record<string, unknown> | null | undefined): string[] => Object.keys(v ?? {}).sort();
  const common = {
    Env: list(c.Env),
    Cmd: list(c.Cmd),
    Entrypoint: list(c.Entrypoint),
    WorkingDir: c.WorkingDir ?? '',
    User: c.User ?? '',
    Labels: Object.fromEntries(Object.entries(c.Labels ?? {}).sort(([a], [b]) => a.localeCompare(b))),
    ExposedPorts: keys(c.ExposedPorts),
    Volumes: keys(c.Volumes),
    StopSignal: c.StopSignal ?? '',
  };
  if (!opts.docker) return common;
  const hc = (c.Healthcheck ?? null) as Record<string, unknown> | null;
  return {
    ...common,
    Shell: list(c.Shell as string[] | null | undefined),
    Healthcheck: hc === null ? null : Object.fromEntries(Object.entries(hc).filter(([, v]) => v !== 0 && v !== undefined).sort(([a], [b]) => a.localeCompare(b))),
    OnBuild: list(c.OnBuild as string[] | null | undefined),
  };
}

function describeEntry(e: FsEntry | undefined): string {
  if (!e) return 'absent';
  const bits = [`${e.type} ${e.mode.toString(8).padStart(4, '0')} ${e.uid}:${e.gid}`];
  if (e.type === 'file') bits.push(`size=${e.size} sha256=${e.sha256?.slice(0, 12)}${e.text !== undefined ? ` ${JSON.stringify(e.text)}` : ''}`);
  if (e.link !== undefined) bits.push(`-> ${e.link}`);
  if (e.dev !== undefined) bits.push(`dev=${e.dev}`);
  if (e.links !== undefined) bits.push(`hardlinked-with=${e.links}`);
  return bits.join(' ');
}

const FIELDS = ['type', 'mode', 'uid', 'gid', 'size', 'sha256', 'link', 'dev', 'links'] as const;

/**
 * Per-path differences between two flattened filesystems, as readable lines
 * (`/etc/x: buildah=file 0644 0:0 … tsbuild=absent`). mtimes are not compared.
 */
export function diffRootfs(a: Rootfs, b: Rootfs, names: [string, string], ignore: (path: string, a: FsEntry | undefined, b: FsEntry | undefined) => boolean = () => false): string[] {
  const out: string[] = [];
  const paths = [...new Set([...a.keys(), ...b.keys()])].sort();
  for (const p of paths) {
    const x = a.get(p);
    const y = b.get(p);
    if (ignore(p, x, y)) continue;
    if (x && y && FIELDS.every((f) => x[f] === y[f])) continue;
    out.push(`${p}: ${names[0]}=${describeEntry(x)}  ${names[1]}=${describeEntry(y)}`);
  }
  return out;
}

/** Per-field config differences, as readable lines; `skip` names fields left out; `docker` as for comparableConfig. */
export function diffConfig(a: OciConfig, b: OciConfig, names: [string, string], skip: ReadonlySet<string> = new Set(), opts: { docker?: boolean } = {}): string[] {
  const x = comparableConfig(a, opts);
  const y = comparableConfig(b, opts);
  return Object.keys(x)
    .filter((k) => !skip.has(k) && JSON.stringify(x[k]) !== JSON.stringify(y[k]))
    .map((k) => `config.${k}: ${names[0]}=${JSON.stringify(x[k])}  ${names[1]}=${JSON.stringify(y[k])}`);
}
