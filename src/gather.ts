// Gathering many small buffers into few large ones. Each write downstream of
// a network socket or a tar packer (a thread-pool file write, a zlib pass, a
// hash update, a trip through the layer unpacker) has a fixed cost, and
// thousands of 512-byte to 64 KiB chunks cost more than the one copy that
// joins them into pieces of a size the consumer works well with.
export class Gatherer {
  private parts: Buffer[] = [];
  private bytes = 0;

  constructor(private readonly target: number) {}

  /** Bytes gathered and not yet taken. */
  get size(): number {
    return this.bytes;
  }

  /** Add `chunk`; returns a piece once at least the target size is gathered. */
  add(chunk: Buffer): Buffer | undefined {
    this.parts.push(chunk);
    this.bytes += chunk.length;
    return this.bytes >= this.target ? this.take() : undefined;
  }

  /** Everything gathered so far as one buffer (no copy for a single part), or undefined if none. */
  take(): Buffer | undefined {
    if (this.bytes === 0) return undefined;
    const piece = this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts, this.bytes);
    this.parts = [];
    this.bytes = 0;
    return piece;
  }
}
