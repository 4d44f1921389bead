// Rootless mode's id maps and preconditions (src/cli/rootless/idmap.ts) and
// its store default (src/cli/context.ts): pure functions, no root needed.
import { describe, expect, it } from 'vitest';
import { kernelProblem, mappedIds, mapperArgs, requireRanges, subordinateRanges } from '../../../src/cli/rootless/idmap.js';
import { defaultRoot } from '../../../src/cli/context.js';

const SUBUID = `# managed by useradd
alice:100000:65536
bob:165536:65536
1001:300000:1000
alice:500000:10
broken:x:10
alice:7:-1
`;

describe('subordinate ranges', () => {
  it('takes every range of the user, by name or by uid, in file order', () => {
    expect(subordinateRanges(SUBUID, 'alice', 1001)).toEqual([
      { start: 100000, count: 65536 }, { start: 300000, count: 1000 }, { start: 500000, count: 10 },
    ]);
    expect(subordinateRanges(SUBUID, 'bob', 1002)).toEqual([{ start: 165536, count: 65536 }]);
    expect(subordinateRanges(SUBUID, 'broken', 1003)).toEqual([]);
  });

  it('maps the user to 0 and the ranges after it, as newuidmap takes them', () => {
    const ranges = subordinateRanges(SUBUID, 'alice', 1001);
    expect(mapperArgs(4242, 1001, ranges)).toEqual(['4242', '0', '1001', '1', '1', '100000', '65536', '65537', '300000', '1000', '66537', '500000', '10']);
    expect(mappedIds(ranges)).toBe(1 + 65536 + 1000 + 10);
  });

  it('without a range, says how to add one in one line', () => {
    expect(() => requireRanges(SUBUID, '/etc/subuid', 'carol', 1004)).toThrow('rootless: no subordinate ids for carol in /etc/subuid (as root: usermod --add-subuids 100000-165535 carol)');
    expect(() => requireRanges(undefined, '/etc/subgid', 'carol', 1004)).toThrow(/--add-subgids/);
  });
});

describe('kernel', () => {
  it('needs 5.11 for overlayfs in a user namespace, and names what is missing', () => {
    expect(kernelProblem('6.18.44-fc-v669')).toBeUndefined();
    expect(kernelProblem('5.11.0')).toBeUndefined();
    expect(kernelProblem('5.10.0-28-amd64')).toMatch(/Linux 5\.10 cannot mount overlayfs in a user namespace \(needs 5\.11 or later, for the userxattr option\)/);
    expect(kernelProblem('4.19.0')).toMatch(/Linux 4\.19/);
  });
});

describe('store default', () => {
  it('is ~/.local/share/tsbuild for a user and inside its rootless namespace (uid 0 there)', () => {
    expect(defaultRoot({ HOME: '/home/a' }, 1000)).toBe('/home/a/.local/share/tsbuild');
    expect(defaultRoot({ HOME: '/home/a', TSBUILD_ROOTLESS: '1000' }, 0)).toBe('/home/a/.local/share/tsbuild');
    expect(defaultRoot({ HOME: '/root' }, 0)).toBe('/var/lib/tsbuild');
    expect(defaultRoot({ HOME: '/home/a', TSBUILD_ROOTLESS: '1000', TSBUILD_ROOT: '/x' }, 0)).toBe('/x');
  });
});
