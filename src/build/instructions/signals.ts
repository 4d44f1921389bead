// STOPSIGNAL values: a Linux signal name (with or without SIG) or number, as
// docker's signal.ParseSignal accepts, so a typo fails at parse time rather
// than when the container is stopped.
import { fail } from '../parser/located-error.js';
import { didYouMean } from './suggest.js';

const NAMES = [
  'HUP', 'INT', 'QUIT', 'ILL', 'TRAP', 'ABRT', 'IOT', 'BUS', 'FPE', 'KILL', 'USR1', 'SEGV', 'USR2', 'PIPE', 'ALRM',
  'TERM', 'STKFLT', 'CHLD', 'CONT', 'STOP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'XCPU', 'XFSZ', 'VTALRM', 'PROF', 'WINCH',
  'IO', 'POLL', 'PWR', 'SYS', 'RTMIN', 'RTMAX',
];

/** Accept a known signal name (SIGTERM, TERM) or number (1-64); throw E_BAD_SIGNAL otherwise. */
export function checkSignal(text: string): void {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n >= 1 && n <= 64) return;
    fail('E_BAD_SIGNAL', `invalid signal number ${text} (1-64)`);
  }
  const name = text.toUpperCase().replace(/^SIG/, '');
  const rt = /^RTM(?:IN\+|AX-)(\d+)$/.exec(name);
  if (NAMES.includes(name) || (rt && Number(rt[1]) <= 30)) return;
  fail('E_BAD_SIGNAL', `invalid signal ${JSON.stringify(text)}${didYouMean(name, NAMES, (s) => `SIG${s}`)}`);
}
