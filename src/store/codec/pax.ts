// PAX extended headers with binary-safe xattr values. tar-stream decodes
// every PAX value as UTF-8, which corrupts binary xattrs such as
// security.capability (a file capability in an image would silently stop
// working). We give each extract instance its own PAX decoder that keeps
// `SCHILY.xattr.*` values as latin1 strings (one char per byte, so
// Buffer.from(v, 'latin1') restores the exact bytes) and everything else as
// UTF-8, as tar-stream does. This hooks one internal method of tar-stream's
// Extract; if a future version lacks it, values fall back to UTF-8 and
// `xattrsAreBinary` says so.
import type { Extract } from 'tar-stream';

const XATTR_PREFIX = 'SCHILY.xattr.';

/** Decode PAX records `"<len> <key>=<value>\n"`, keeping xattr values byte-exact. */
export function decodePaxRecords(buf: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let rest = buf;
  while (rest.length) {
    const sp = rest.indexOf(0x20);
    if (sp <= 0) break;
    const len = Number.parseInt(rest.subarray(0, sp).toString('ascii'), 10);
    if (!Number.isFinite(len) || len <= sp + 1 || len > rest.length) break;
    const rec = rest.subarray(sp + 1, len - 1); // drop the trailing newline
    const eq = rec.indexOf(0x3d);
    if (eq < 0) break;
    const key = rec.subarray(0, eq).toString('utf8');
    const value = rec.subarray(eq + 1);
    out[key] = key.startsWith(XATTR_PREFIX) ? value.toString('latin1') : value.toString('utf8');
    rest = rest.subarray(len);
  }
  return out;
}

interface ExtractInternals {
  _decodeLongHeader?: (buf: Buffer) => void;
  _header?: { type?: string };
  _pax?: Record<string, string> | null;
  _paxGlobal?: Record<string, string> | null;
}

/** Install the byte-exact PAX decoder on `ex`; returns whether xattr values are binary-exact. */
export function useBinaryXattrs(ex: Extract): boolean {
  const internals = ex as unknown as ExtractInternals;
  const original = internals._decodeLongHeader;
  if (typeof original !== 'function') return false;
  internals._decodeLongHeader = function (this: ExtractInternals, buf: Buffer): void {
    const type = this._header?.type;
    if (type === 'pax-header') {
      this._pax = { ...(this._paxGlobal ?? {}), ...decodePaxRecords(buf) };
    } else if (type === 'pax-global-header') {
      this._paxGlobal = decodePaxRecords(buf);
    } else {
      original.call(this, buf);
    }
  };
  return true;
}

/** The xattrs of an entry's PAX header, as name → exact bytes. */
export function xattrsOf(pax: Record<string, string> | undefined, binary: boolean): { name: string; value: Buffer }[] {
  if (!pax) return [];
  const out: { name: string; value: Buffer }[] = [];
  for (const [k, v] of Object.entries(pax)) {
    if (k.startsWith(XATTR_PREFIX)) out.push({ name: k.slice(XATTR_PREFIX.length), value: Buffer.from(v, binary ? 'latin1' : 'utf8') });
    // libarchive writes base64 values under its own prefix.
    else if (k.startsWith('LIBARCHIVE.xattr.')) {
      let name: string;
      try {
        name = decodeURIComponent(k.slice('LIBARCHIVE.xattr.'.length));
      } catch {
        continue; // a malformed name: skip it rather than guess
      }
      out.push({ name, value: Buffer.from(v, 'base64') });
    }
  }
  return out;
}
