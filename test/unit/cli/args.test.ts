import { describe, expect, it } from 'vitest';
import { parseArgs, type FlagSpec } from '../../../src/cli/args.js';

const specs: FlagSpec[] = [
  { name: 'interactive', short: 'i', type: 'bool', help: '' },
  { name: 'tty', short: 't', type: 'bool', help: '' },
  { name: 'rm', type: 'bool', help: '' },
  { name: 'env', short: 'e', type: 'list', help: '' },
  { name: 'name', type: 'string', help: '' },
];

describe('parseArgs', () => {
  it('parses clusters, inline values and repeated lists', () => {
    const a = parseArgs(['-it', '-eA=1', '--env', 'B=2', '--env=C=3', '--name=x', '--rm=false', 'img'], specs);
    expect(a.bools.get('interactive')).toBe(true);
    expect(a.bools.get('tty')).toBe(true);
    expect(a.bools.get('rm')).toBe(false);
    expect(a.lists.get('env')).toEqual(['A=1', 'B=2', 'C=3']);
    expect(a.strings.get('name')).toBe('x');
    expect(a.positionals).toEqual(['img']);
  });
  it('stops at the first positional when asked, so the command keeps its flags', () => {
    const a = parseArgs(['-i', 'img', 'ls', '-la', '--rm'], specs, { stopAtPositional: true });
    expect(a.positionals).toEqual(['img', 'ls', '-la', '--rm']);
    expect(a.bools.get('rm')).toBeUndefined();
  });
  it('reports unknown flags and missing values in one line', () => {
    expect(() => parseArgs(['--bogus'], specs)).toThrow('unknown flag: --bogus');
    expect(() => parseArgs(['-x'], specs)).toThrow(/unknown shorthand flag: 'x'/);
    expect(() => parseArgs(['--name'], specs)).toThrow('flag needs an argument: --name');
    expect(() => parseArgs(['--rm=maybe'], specs)).toThrow(/expected true or false/);
  });
});
