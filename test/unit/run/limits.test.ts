import { describe, expect, it } from 'vitest';
import { formatBytes, parseLimits, parseSize } from '../../../src/run/limits.js';

describe('parseSize', () => {
  it('reads docker-style sizes', () => {
    expect(parseSize('32m')).toBe(32 * 1024 * 1024);
    expect(parseSize('1g')).toBe(1024 ** 3);
    expect(parseSize('512K')).toBe(512 * 1024);
    expect(parseSize('1.5g')).toBe(1.5 * 1024 ** 3);
    expect(parseSize('4096')).toBe(4096);
    expect(parseSize('64MiB')).toBe(64 * 1024 * 1024);
  });
  it('rejects garbage with the flag name', () => {
    expect(() => parseSize('32 potatoes')).toThrow(/invalid size for --memory: "32 potatoes"/);
    expect(() => parseSize('-1m')).toThrow(/invalid size/);
    expect(() => parseSize('')).toThrow(/invalid size/);
  });
});

describe('parseLimits', () => {
  it('turns --cpus into a quota over a 100ms period', () => {
    expect(parseLimits({ cpus: '0.5' })).toEqual({ cpuPeriod: 100000, cpuQuota: 50000 });
    expect(parseLimits({ cpus: '2' })).toEqual({ cpuPeriod: 100000, cpuQuota: 200000 });
  });
  it('passes explicit period and quota through', () => {
    expect(parseLimits({ cpuPeriod: '100000', cpuQuota: '20000' })).toEqual({ cpuPeriod: 100000, cpuQuota: 20000 });
    expect(parseLimits({ cpuQuota: '-1' })).toEqual({ cpuQuota: -1 });
  });
  it('refuses contradictory or out-of-range values', () => {
    expect(() => parseLimits({ cpus: '1', cpuQuota: '20000' })).toThrow(/cannot be combined/);
    expect(() => parseLimits({ cpus: 'fast' })).toThrow(/--cpus/);
    expect(() => parseLimits({ cpuPeriod: '10' })).toThrow(/--cpu-period/);
    expect(() => parseLimits({ memory: '1m' })).toThrow(/minimum memory limit/);
    expect(() => parseLimits({ pidsLimit: 'ten' })).toThrow(/--pids-limit/);
    expect(() => parseLimits({ cpusetCpus: '0-' })).toThrow(/--cpuset-cpus/);
  });
  it('treats -1 pids as unlimited', () => {
    expect(parseLimits({ pidsLimit: '-1' })).toEqual({});
    expect(parseLimits({ pidsLimit: '10', memory: '32m', cpusetCpus: '0,1' })).toEqual({ pids: 10, memory: 32 << 20, cpusetCpus: '0,1' });
  });
  it('formats byte counts for messages', () => {
    expect(formatBytes(32 << 20)).toBe('32MiB');
    expect(formatBytes(1024 ** 3)).toBe('1GiB');
    expect(formatBytes(1000)).toBe('1000B');
  });
});
