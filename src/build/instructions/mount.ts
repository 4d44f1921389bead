// `RUN --mount=type=cache,target=/root/.cache,sharing=locked`: the CSV list
// of mount options, parsed into a RunMount and checked the way buildkit
// checks it. Option values may hold variables; before expansion (no expander)
// such values are left for later, except `from=`, which docker refuses to
// expand (name an alias stage instead). Besides BuildKit's keys, buildah's
// and podman's bare flags are accepted, so that their users' files build:
// `z`/`Z` (SELinux relabelling: a no-op, tsbuild sets no labels), `U` (own
// the mount by the step's USER) and `tmpcopyup` (tmpfs seeded with what the
// image has at the target); these are case-sensitive, as in buildah.
import { fail } from '../parser/located-error.js';
import { didYouMean } from './suggest.js';
import type { MountType, RunMount } from './types.js';

const TYPES: readonly MountType[] = ['bind', 'cache', 'tmpfs', 'secret', 'ssh'];
const SHARING = ['shared', 'private', 'locked'] as const;
const KEYS = [
  'type', 'from', 'source', 'src', 'target', 'dst', 'destination', 'readonly', 'ro', 'readwrite', 'rw',
  'id', 'sharing', 'required', 'mode', 'uid', 'gid', 'size', 'env', 'U', 'z', 'Z', 'relabel', 'tmpcopyup', 'notmpcopyup',
];

export type WordExpander = (word: string) => string;

export function parseMount(spec: string, expand: WordExpander | null): RunMount {
  const m: RunMount = {
    spec, type: 'bind', target: null, source: null, from: null, id: null, sharing: null,
    mode: null, uid: null, gid: null, readonly: true, required: false, size: null, env: null,
    chownToUser: false, copyUp: false,
  };
  let readonlyGiven = false;
  for (const field of splitCsv(spec)) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    if (eq < 0) {
      if (podmanFlag(m, field)) continue;
      if (key === 'readonly' || key === 'ro') { m.readonly = true; readonlyGiven = true; continue; }
      if (key === 'readwrite' || key === 'rw') { m.readonly = false; readonlyGiven = true; continue; }
      if (key === 'required') { requireSecretOrSsh(m, key); m.required = true; continue; }
      bad(`mount option ${JSON.stringify(field)} must be a key=value pair`);
    }
    let value = field.slice(eq + 1);
    if (key === 'from' && /\$./.test(value)) bad("mount option from= can't use variables; define an alias stage instead (FROM … AS name)");
    if (expand) value = expand(value);
    else if (value.includes('$') && key !== 'from') continue; // decided after expansion
    switch (key) {
      case 'type': {
        const type = value.toLowerCase() as MountType;
        if (!TYPES.includes(type)) bad(`unsupported mount type ${JSON.stringify(value)}${didYouMean(value, TYPES)}`);
        m.type = type;
        break;
      }
      case 'from': m.from = value; break;
      case 'source': case 'src': m.source = value; break;
      case 'target': case 'dst': case 'destination': m.target = value; break;
      case 'readonly': case 'ro': m.readonly = parseBool(key, value); readonlyGiven = true; break;
      case 'readwrite': case 'rw': m.readonly = !parseBool(key, value); readonlyGiven = true; break;
      case 'required': requireSecretOrSsh(m, key); m.required = parseBool(key, value); break;
      case 'id': m.id = value; break;
      case 'env': m.env = value; break;
      case 'sharing': {
        const sharing = SHARING.find((s) => s === value.toLowerCase());
        if (!sharing) bad(`unsupported sharing value ${JSON.stringify(value)}: use shared, private or locked`);
        m.sharing = sharing;
        break;
      }
      case 'mode': m.mode = parseUint(key, value, 8); break;
      case 'uid': m.uid = parseUint(key, value, 10); break;
      case 'gid': m.gid = parseUint(key, value, 10); break;
      case 'size': m.size = parseSize(value); break;
      case 'u': case 'chown': m.chownToUser = parseBool(key, value); break;
      case 'relabel':
        // buildah's spelling of z (shared) and Z (private): accepted, nothing to relabel.
        if (value !== 'shared' && value !== 'private') bad(`invalid value for relabel: ${JSON.stringify(value)} (use shared or private)`);
        break;
      case 'tmpcopyup': m.copyUp = parseBool(key, value); break;
      default: bad(`unexpected mount option ${JSON.stringify(key)}${didYouMean(key, KEYS)}`);
    }
  }
  validate(m, readonlyGiven, expand !== null || !spec.includes('$'));
  return m;
}

function validate(m: RunMount, readonlyGiven: boolean, complete: boolean): void {
  const fileInfoAllowed = m.type === 'secret' || m.type === 'ssh' || m.type === 'cache';
  for (const [name, v] of [['mode', m.mode], ['uid', m.uid], ['gid', m.gid]] as const) {
    if (v !== null && !fileInfoAllowed) bad(`${name} is not allowed for ${m.type} mounts`);
  }
  // Caches and tmpfs are writable unless asked otherwise; binds and secrets read-only.
  if (!readonlyGiven) m.readonly = !(m.type === 'cache' || m.type === 'tmpfs');
  if (m.sharing !== null && m.type !== 'cache') bad(`sharing= is only for cache mounts, not ${m.type}`);
  if (m.size !== null && m.type !== 'tmpfs') bad(`size= is only for tmpfs mounts, not ${m.type}`);
  if (m.copyUp && m.type !== 'tmpfs') bad(`tmpcopyup is only for tmpfs mounts, not ${m.type}`);
  if (m.chownToUser && m.type !== 'bind' && m.type !== 'cache' && m.type !== 'tmpfs') bad(`U is only for bind, cache and tmpfs mounts, not ${m.type}`);
  if (m.type === 'secret') {
    if (m.from !== null) bad('a secret mount has no from=');
    if (m.source !== null && m.id !== null) bad('a secret mount takes source= or id=, not both');
    if (complete && m.source === null && m.target === null && m.id === null && m.env === null) {
      bad('a secret mount needs id=, source=, target= or env=');
    }
  }
  if (complete && m.target === null && (m.type === 'bind' || m.type === 'cache' || m.type === 'tmpfs')) {
    bad(`a ${m.type} mount needs target= (where to mount it)`);
  }
}

/** buildah's bare flags (case-sensitive); true when `field` was one. */
function podmanFlag(m: RunMount, field: string): boolean {
  switch (field) {
    case 'z': case 'Z': return true; // SELinux relabel: no labels here, so nothing to do
    case 'U': m.chownToUser = true; return true;
    case 'tmpcopyup': m.copyUp = true; return true;
    case 'notmpcopyup': m.copyUp = false; return true;
    default: return false;
  }
}

function requireSecretOrSsh(m: RunMount, key: string): void {
  if (m.type !== 'secret' && m.type !== 'ssh') bad(`mount option ${key} is only for secret and ssh mounts, not ${m.type} (put type= first)`);
}

function parseBool(key: string, value: string): boolean {
  const v = value.toLowerCase();
  if (v === 'true' || v === '1' || v === 't') return true;
  if (v === 'false' || v === '0' || v === 'f') return false;
  return bad(`invalid value for ${key}: ${JSON.stringify(value)} (use true or false)`);
}

function parseUint(key: string, value: string, radix: 8 | 10): number {
  const ok = radix === 8 ? /^[0-7]+$/.test(value) : /^\d+$/.test(value);
  const n = ok ? Number.parseInt(value, radix) : NaN;
  if (!Number.isSafeInteger(n) || n > 0xffffffff) bad(`invalid value ${JSON.stringify(value)} for ${key}`);
  return n;
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** docker's RAMInBytes: `64m`, `1g`, `512k`, `1048576`, binary multiples. */
function parseSize(value: string): number {
  const m = /^(\d+(?:\.\d+)?) ?([kmgtp]?)(?:i?b)?$/i.exec(value);
  if (!m) return bad(`invalid size ${JSON.stringify(value)} (use bytes or a unit: 64m, 1g)`);
  return Math.floor(Number(m[1]) * (SIZE_UNITS[(m[2] as string).toLowerCase()] as number));
}

/** One CSV record: fields split on commas, `"…"` quoting with `""` for a quote. */
function splitCsv(text: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) bad(`unterminated quote in mount options ${JSON.stringify(text)}`);
        if (text[i] === '"') {
          if (text[i + 1] === '"') { field += '"'; i += 2; continue; }
          i++;
          break;
        }
        field += text[i++];
      }
      if (i < text.length && text[i] !== ',') bad(`unexpected text after a quoted field in mount options ${JSON.stringify(text)}`);
    } else {
      const comma = text.indexOf(',', i);
      field = text.slice(i, comma < 0 ? text.length : comma);
      if (field.includes('"')) bad(`stray quote in mount options ${JSON.stringify(text)}`);
      i = comma < 0 ? text.length : comma;
    }
    fields.push(field);
    if (i >= text.length) return fields;
    i++; // the comma
  }
}

function bad(message: string): never {
  return fail('E_BAD_MOUNT', message);
}
