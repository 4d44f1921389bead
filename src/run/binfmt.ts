// Foreign-architecture RUN steps: the kernel's binfmt_misc runs them through
// an emulator (qemu-user-static) that the host registered. tsbuild never
// registers a handler itself (that is host policy); it only checks, before a
// container starts, that one is there and usable from inside a container,
// so a missing emulator is one clear line instead of "exec format error".
//
// Usable means: enabled, matching the platform's ELF header, and with the F
// (fix-binary) flag, so the kernel opened the interpreter at registration
// and the container's root need not contain it. Debian's qemu-user-static
// registers its handlers that way through binfmt-support.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TsbuildError } from '../errors.js';
import type { Platform } from '../image/oci.js';

export const BINFMT_DIR = '/proc/sys/fs/binfmt_misc';

/** ELF class (1: 32-bit, 2: 64-bit), data (1: LE, 2: BE) and e_machine of each architecture. */
const ELF: Record<string, { cls: number; data: number; machine: number; qemu: string }> = {
  amd64: { cls: 2, data: 1, machine: 62, qemu: 'x86_64' },
  '386': { cls: 1, data: 1, machine: 3, qemu: 'i386' },
  arm64: { cls: 2, data: 1, machine: 183, qemu: 'aarch64' },
  arm: { cls: 1, data: 1, machine: 40, qemu: 'arm' },
  ppc64le: { cls: 2, data: 1, machine: 21, qemu: 'ppc64le' },
  s390x: { cls: 2, data: 2, machine: 22, qemu: 's390x' },
  riscv64: { cls: 2, data: 1, machine: 243, qemu: 'riscv64' },
  mips64le: { cls: 2, data: 1, machine: 8, qemu: 'mips64el' },
};

export interface BinfmtEntry {
  name: string;
  enabled: boolean;
  interpreter: string;
  flags: string;
  magic: Buffer;
  mask: Buffer | null;
}

/** One /proc/sys/fs/binfmt_misc/NAME file, parsed. */
export function parseBinfmtEntry(name: string, text: string): BinfmtEntry {
  const field = (k: string): string => text.split('\n').find((l) => l.startsWith(`${k} `))?.slice(k.length + 1).trim() ?? '';
  const mask = field('mask');
  return {
    name,
    enabled: text.split('\n')[0]?.trim() === 'enabled',
    interpreter: field('interpreter'),
    flags: text.match(/^flags:\s*(\S*)/m)?.[1] ?? '',
    magic: Buffer.from(field('magic'), 'hex'),
    mask: mask ? Buffer.from(mask, 'hex') : null,
  };
}

/** Does the entry's magic (under its mask) match an ELF executable of `arch`? */
export function matchesArch(e: BinfmtEntry, arch: string): boolean {
  const elf = ELF[arch];
  if (!elf || e.magic.length < 20) return false;
  // A typical ELF executable header's first 20 bytes for that machine.
  const header = Buffer.alloc(20);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, elf.cls, elf.data, 1]).copy(header);
  const type = 2; // ET_EXEC (masks leave ET_DYN through too)
  if (elf.data === 1) { header.writeUInt16LE(type, 16); header.writeUInt16LE(elf.machine, 18); } else { header.writeUInt16BE(type, 16); header.writeUInt16BE(elf.machine, 18); }
  for (let i = 0; i < e.magic.length && i < header.length; i++) {
    const m = e.mask ? (e.mask[i] ?? 0xff) : 0xff;
    if (((header[i] as number) & m) !== ((e.magic[i] as number) & m)) return false;
  }
  return true;
}

function readEntries(dir: string): BinfmtEntry[] | null {
  let names: string[];
  try { names = readdirSync(dir); } catch { return null; }
  if (!names.includes('status')) return null; // not mounted
  const out: BinfmtEntry[] = [];
  for (const n of names) {
    if (n === 'status' || n === 'register') continue;
    try { out.push(parseBinfmtEntry(n, readFileSync(join(dir, n), 'utf8'))); } catch { /* unregistered meanwhile */ }
  }
  return out;
}

function missing(platform: string, why: string, arch: string): TsbuildError {
  const qemu = ELF[arch]?.qemu ?? arch;
  return new TsbuildError('E_NO_EMULATOR',
    `RUN for platform ${platform} needs an emulator: ${why}; install qemu-user-static and binfmt-support (qemu-${qemu} with the F flag)`);
}

/** Throws E_NO_EMULATOR unless a RUN for `p` can run through binfmt_misc. */
export function checkEmulator(p: Platform, formatted: string, dir: string = BINFMT_DIR): void {
  const entries = readEntries(dir);
  if (entries === null) throw missing(formatted, `binfmt_misc is not mounted at ${dir}`, p.architecture);
  if (!ELF[p.architecture]) throw missing(formatted, `tsbuild knows no ELF machine for architecture ${p.architecture}`, p.architecture);
  const matching = entries.filter((e) => e.enabled && matchesArch(e, p.architecture));
  if (matching.length === 0) throw missing(formatted, `no binfmt_misc handler for ${ELF[p.architecture]?.qemu} is registered`, p.architecture);
  if (!matching.some((e) => e.flags.includes('F'))) {
    throw missing(formatted, `the binfmt_misc handler ${matching[0]?.name} lacks the F flag, so it cannot run inside a container`, p.architecture);
  }
}
