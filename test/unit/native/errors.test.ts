// Native failures reach callers as NativeErrors with the crate's stable code
// and the errno: the wire format (sync code, async code prefix, os error
// trailer), the code list against the crate's, and the real binding's
// failures that need no root (bad input, missing paths, a process that is gone).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NATIVE_ERROR_CODES, readNativeError } from '../../../src/native/errors.js';
import { fromNative, native, NativeError, wrapBinding } from '../../../src/native/index.js';
import { TsbuildError } from '../../../src/errors.js';

const scratch = mkdtempSync(join(tmpdir(), 'tsbuild-native-errors-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function caught(fn: () => unknown): NativeError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(NativeError);
    return err as NativeError;
  }
  throw new Error('did not throw');
}

describe('readNativeError', () => {
  it('takes the code from err.code, or from the message an async task leads with', () => {
    expect(readNativeError(Object.assign(new Error('open /x: No such file or directory (os error 2)'), { code: 'E_NATIVE_CGROUP' })))
      .toEqual({ code: 'E_NATIVE_CGROUP', message: 'open /x: No such file or directory (os error 2)', errno: 'ENOENT' });
    expect(readNativeError(Object.assign(new Error('E_LOCK: lock /l: Permission denied (os error 13)'), { code: 'GenericFailure' })))
      .toEqual({ code: 'E_LOCK', message: 'lock /l: Permission denied (os error 13)', errno: 'EACCES' });
  });

  it('gives E_NATIVE to what has no code of ours, and no errno without one', () => {
    expect(readNativeError(Object.assign(new Error('Failed to convert JavaScript value `Undefined` into rust type `String`'), { code: 'StringExpected' })))
      .toEqual({ code: 'E_NATIVE', message: 'Failed to convert JavaScript value `Undefined` into rust type `String`', errno: undefined });
    expect(readNativeError(new Error('E_BOGUS: x')).code).toBe('E_NATIVE');
  });
});

describe('the code list', () => {
  it('is the crate\'s error::Code list', () => {
    const rust = readFileSync(resolve(import.meta.dirname, '../../../crates/native/src/error.rs'), 'utf8');
    const codes = [...rust.matchAll(/Code::\w+ => "(E_[A-Z_]+)"/g)].map((m) => m[1]);
    expect(codes).toEqual([...NATIVE_ERROR_CODES]);
  });
});

describe('the wrapped binding', () => {
  it('turns a throw, a rejection and a failed constructor into NativeErrors', async () => {
    const fake = {
      now: () => { throw Object.assign(new Error('create /c: Permission denied (os error 13)'), { code: 'E_NATIVE_CGROUP' }); },
      later: () => Promise.reject(Object.assign(new Error('E_NATIVE_SPAWN: wait for 5: No child processes (os error 10)'), { code: 'GenericFailure' })),
      fine: (n: number) => n + 1,
    };
    const api = wrapBinding(fake as never) as unknown as typeof fake;
    expect(api.fine(1)).toBe(2);
    const e = caught(() => api.now());
    expect([e.code, e.errno, e.exitCode, e.message]).toEqual(['E_NATIVE_CGROUP', 'EACCES', 125, 'create /c: Permission denied (os error 13)']);
    const r = await api.later().catch((err: unknown) => err);
    expect(r).toBeInstanceOf(NativeError);
    expect([(r as NativeError).code, (r as NativeError).errno, (r as NativeError).message]).toEqual(['E_NATIVE_SPAWN', 'ECHILD', 'wait for 5: No child processes (os error 10)']);
  });

  it('refuses a native class it has no wrapper for', () => {
    class Unwrapped { method(): void {} }
    expect(() => wrapBinding({ Unwrapped } as never)).toThrow(/native class Unwrapped has no wrapper/);
  });

  it('reports bad input, a bad profile and missing paths with their codes', () => {
    expect(caught(() => native().checkSeccompProfile('{')).code).toBe('E_NATIVE_SECCOMP');
    const scan = caught(() => native().scanLayer(join(scratch, 'missing')));
    expect([scan.code, scan.errno]).toEqual(['E_NATIVE_IO', 'ENOENT']);
    const cg = caught(() => native().cgroupCreate(join(scratch, 'no-cgroupfs', 'x'), 'tsbuild/t', { memory: 1 << 26 }));
    expect(cg.code).toBe('E_NATIVE_CGROUP');
    const rooted = caught(() => new (native().RootedDir)(join(scratch, 'missing'), false));
    expect([rooted.code, rooted.errno]).toEqual(['E_LAYER_FS', 'ENOENT']);
    const spawn = caught(() => native().spawnContainer({ rootfs: scratch, lowerDirs: [], network: 'bogus', binds: [], maskPaths: false, process: processOptions(), stdio: { fds: [0, 1, 2] }, cgroupProcs: [] }));
    expect([spawn.code, spawn.message]).toEqual(['E_NATIVE_INPUT', 'unknown network mode bogus']);
  });

  it('rejects a lock it cannot take with E_LOCK and the path, no code in the message', async () => {
    const err = await native().lockFile(join(scratch, 'missing', 'sub', 'lock'), true).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NativeError);
    expect((err as NativeError).code).toBe('E_LOCK');
    expect((err as NativeError).message).not.toMatch(/^E_LOCK/);
    expect((err as NativeError).message).toContain(join(scratch, 'missing'));
  });

  it('says a container process is gone when its namespaces are', () => {
    // The highest pid: never a live process (pid_max is at most 2^22).
    const e = caught(() => native().spawnInContainer({ targetPid: 2 ** 31 - 1, process: processOptions(), stdio: { fds: [0, 1, 2] }, cgroupProcs: [] }));
    expect([e.code, e.errno, e.message]).toEqual(['E_NATIVE_SPAWN', 'ENOENT', `container process ${2 ** 31 - 1} is gone: No such file or directory (os error 2)`]);
  });

  it('fromNative says what the caller was doing and keeps the code', () => {
    const e = caught(() => native().checkSeccompProfile('{'));
    const wrapped = fromNative('check profile p.json', e);
    expect(wrapped).toBeInstanceOf(NativeError);
    expect([wrapped.code, wrapped.exitCode, wrapped.message]).toEqual(['E_NATIVE_SECCOMP', 1, `check profile p.json: ${e.message}`]);
    const other = new TsbuildError('E_USAGE', 'x');
    expect(fromNative('y', other)).toBe(other);
  });
});

function processOptions() {
  return { args: ['true'], env: [], execCandidates: ['/bin/true'], cwd: '/', uid: 0, gid: 0, groups: [], noNewPrivs: true, dieWithParent: true, seccomp: 'unconfined' };
}
