// unbzip2-stream ships no types: a classic through-stream that turns bzip2 into bytes.
declare module 'unbzip2-stream' {
  import type { Duplex } from 'node:stream';
  export default function unbzip2Stream(): Duplex;
}
