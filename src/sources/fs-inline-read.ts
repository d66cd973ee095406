import { readSync } from 'node:fs';

/**
 * Small reads done inline (pread on the event loop) while the storage answers like memory. From
 * the page cache a tile read takes a few µs that way, against about 35 µs of CPU through libuv's
 * thread pool: a hand-off to a pool thread and a wake-up of the loop, each a thread switch on a
 * 2-core machine. `strikes` reads slower than `slowMs` within a second (a spinning disk, a network
 * mount; one alone may be the thread losing its core) send reads back to the pool for `pauseMs`,
 * so slow storage holds the loop up a few times per pause at most.
 */
export interface InlineReads {
  /** Bytes read into `buffer` from `position`, or undefined: read through the pool instead. */
  read(fd: number, buffer: Uint8Array, position: number): number | undefined;
}

export interface InlineReadOptions {
  /** Off: every read goes through the pool (IIIF_FS_INLINE_READS=false). */
  enabled: boolean;
  /** Larger reads always go through the pool: whole files, strips. */
  maxBytes?: number;
  slowMs?: number;
  strikes?: number;
  pauseMs?: number;
  now?: () => number;
  /** node:fs readSync; replaced in tests. */
  readSync?: (fd: number, buffer: Uint8Array, offset: number, length: number, position: number) => number;
}

export function inlineReads(options: InlineReadOptions): InlineReads {
  const { enabled, maxBytes = 512 * 1024, slowMs = 2, strikes = 3, pauseMs = 10_000, now = () => performance.now(), readSync: pread = readSync } = options;
  let pausedUntil = -Infinity;
  let slow = 0;
  let since = -Infinity;
  return {
    read(fd, buffer, position) {
      if (!enabled || buffer.length > maxBytes) return undefined;
      const started = now();
      if (started < pausedUntil) return undefined;
      const n = pread(fd, buffer, 0, buffer.length, position);
      const ended = now();
      if (ended - started > slowMs) {
        if (ended - since > 1000) {
          since = ended;
          slow = 0;
        }
        if (++slow >= strikes) {
          pausedUntil = ended + pauseMs;
          slow = 0;
        }
      }
      return n;
    },
  };
}
