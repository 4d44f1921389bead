// `tsbuild manifest create|add|inspect|push`, in buildah's spelling, for
// pipelines that assemble a multi-platform image by hand:
//   tsbuild manifest create LIST [IMAGE...]
//   tsbuild manifest add [--os OS] [--arch ARCH] [--variant V] LIST IMAGE
//   tsbuild manifest inspect LIST
//   tsbuild manifest push [--all] [--tls-verify=false] LIST [docker://]DEST
// The list is an index record of the store (store/index-records.ts); its
// images are stored images (pulled when missing), each added under the
// platform its config declares unless the flags say otherwise.
import { formatFlagHelp, parseArgs, type FlagSpec } from './args.js';
import type { CliContext } from './context.js';
import { TsbuildError, usageError } from '../errors.js';
import { MediaType, type ImageIndex, type Platform } from '../image/oci.js';
import { makeIndex, withEntry, type IndexEntry } from '../image/index-manifest.js';
import { configPlatform } from '../image/platform.js';
import { registryFlags, registryOptions } from './registry-flags.js';
import { usingStore, type Store } from '../store/index.js';
import { findIndexRecord, parseIndexRecord, putIndexRecord } from '../store/index-records.js';

const flags: FlagSpec[] = [
  ...registryFlags,
  { name: 'os', type: 'string', help: 'add: the entry\'s OS (default: the image config\'s)', value: 'OS' },
  { name: 'arch', type: 'string', help: 'add: the entry\'s architecture', value: 'ARCH' },
  { name: 'variant', type: 'string', help: 'add: the entry\'s variant', value: 'VARIANT' },
  { name: 'all', type: 'bool', help: 'push: every image of the list (always so; accepted for buildah scripts)' },
  { name: 'help', type: 'bool', help: 'show this help' },
];

const usage = `Usage: tsbuild manifest create LIST [IMAGE...]
       tsbuild manifest add [--os OS] [--arch ARCH] [--variant V] LIST IMAGE
       tsbuild manifest inspect LIST
       tsbuild manifest push [--all] LIST [docker://]DEST

Make and push multi-platform images (OCI image indexes) by hand.

${formatFlagHelp(flags)}
`;

async function entryFor(store: Store, image: string, override: Partial<Platform>, tlsVerify: boolean | undefined): Promise<IndexEntry> {
  let record = await store.findImage(image);
  if (!record) {
    const { ensureImage } = await import('../registry/index.js');
    record = await ensureImage(store, image, tlsVerify === false ? { tlsVerify: false } : {});
  }
  const { config } = await store.readImage(record);
  const size = (await store.readBlob(record.manifestDigest)).length;
  const p = { ...configPlatform(config), ...override };
  return { digest: record.manifestDigest, size, mediaType: record.manifestMediaType, platform: p };
}

function listOf(root: string, name: string): ImageIndex {
  const rec = findIndexRecord(root, name);
  if (!rec) throw new TsbuildError('E_IMAGE_NOT_FOUND', `manifest list not known: ${name} (tsbuild manifest create ${name})`);
  return parseIndexRecord(rec);
}

export async function run(ctx: CliContext, argv: string[]): Promise<number> {
  const a = parseArgs(argv, flags);
  if (a.bools.get('help') || a.positionals.length === 0) { ctx.stdout.write(usage); return a.bools.get('help') ? 0 : 125; }
  const [sub, list, ...rest] = a.positionals as [string, string | undefined, ...string[]];
  if (!list) throw usageError(`"tsbuild manifest ${sub}" requires a list name`);
  const tlsVerify = a.bools.get('tls-verify');
  switch (sub) {
    case 'create': return usingStore(ctx.root, async (store) => {
      let json = makeIndex([]).json;
      for (const image of rest) json = withEntry(JSON.parse(json) as ImageIndex, await entryFor(store, image, {}, tlsVerify)).json;
      const [rec] = putIndexRecord(ctx.root, [list], json, MediaType.ociIndex);
      ctx.stdout.write(`${rec?.digest}\n`);
      return 0;
    });
    case 'add': {
      if (rest.length !== 1) throw usageError('"tsbuild manifest add" requires LIST and IMAGE');
      const index = listOf(ctx.root, list);
      const override: Partial<Platform> = {};
      for (const [flag, key] of [['os', 'os'], ['arch', 'architecture'], ['variant', 'variant']] as const) {
        const v = a.strings.get(flag);
        if (v !== undefined) override[key] = v;
      }
      return usingStore(ctx.root, async (store) => {
        const entry = await entryFor(store, rest[0] as string, override, tlsVerify);
        const [rec] = putIndexRecord(ctx.root, [list], withEntry(index, entry).json, MediaType.ociIndex);
        ctx.stdout.write(`${rec?.digest}: ${entry.digest}\n`);
        return 0;
      });
    }
    case 'inspect':
      ctx.stdout.write(`${JSON.stringify(listOf(ctx.root, list), null, 4)}\n`);
      return 0;
    case 'push': {
      if (rest.length > 1) throw usageError('"tsbuild manifest push" takes LIST and optionally DEST');
      const rec = findIndexRecord(ctx.root, list);
      if (!rec) throw new TsbuildError('E_IMAGE_NOT_FOUND', `manifest list not known: ${list}`);
      const dest = (rest[0] ?? rec.name).replace(/^docker:\/\//, '');
      return usingStore(ctx.root, async (store) => {
        const { pushIndex } = await import('../registry/push-index.js');
        const r = await pushIndex(store, rec.json, rec.mediaType, dest, { ...registryOptions(a), log: ctx.log });
        ctx.stdout.write(`${r.digest}\n`);
        return 0;
      });
    }
    default:
      throw usageError(`unknown manifest command "${sub}": expected create, add, inspect or push`);
  }
}
