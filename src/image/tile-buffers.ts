/**
 * Buffers for stored tiles answered directly, used again once the runtime has written them. A
 * fresh array for the read and another for the JPEG with its tables took about a fifth of our
 * code's time per stored tile (in-process, 2026-12-07). At most `keep` buffers of `bytes` wait
 * here (2 MiB by default); a buffer whose answer is never reported written (a client gone) is
 * left to the collector.
 */
export interface TileBuffers {
  /** A buffer of exactly `length` bytes, or undefined when larger than the pooled size. */
  take(length: number): Uint8Array | undefined;
  /** Hands the buffer back for another answer: its bytes are no longer anyone's. Once per take. */
  give(buffer: Uint8Array): void;
}

export function tileBuffers(bytes = 64 * 1024, keep = 32): TileBuffers {
  const free: ArrayBuffer[] = [];
  return {
    take: (length) => (length > bytes ? undefined : new Uint8Array(free.pop() ?? new ArrayBuffer(bytes), 0, length)),
    give(buffer) {
      if (free.length < keep && buffer.buffer instanceof ArrayBuffer && buffer.buffer.byteLength === bytes) free.push(buffer.buffer);
    },
  };
}
