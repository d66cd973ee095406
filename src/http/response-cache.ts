import { LRUCache } from 'lru-cache';

export interface CachedResponse {
  body: Uint8Array<ArrayBuffer>;
  /** How it was first made, for logs and Server-Timing. */
  via: 'tiles' | 'passthrough' | 'render';
}

/** Lookups since start, for the runtime's metrics and the hit rate in Server-Timing. */
export interface ResponseCacheStats {
  hits: number;
  misses: number;
}

/**
 * A second, larger tier under the memory one, given by the runtime (Node: files on local disk).
 * `set` does not wait for the write; a failed write is the store's to report.
 */
export interface ResponseStore {
  get(key: string): Promise<CachedResponse | undefined>;
  set(key: string, response: CachedResponse): void;
  /**
   * The memory tier answered `key`: a use the store's own least-recently-used order must count,
   * or the most requested responses would be the first it drops. Called on every memory hit, so
   * no waiting and no I/O of its own that is not throttled.
   */
  touch?(key: string): void;
}

export interface ResponseCache {
  stats: ResponseCacheStats;
  /** `from` says which tier had it. */
  get(key: string): Promise<(CachedResponse & { from: 'memory' | 'store' }) | undefined>;
  set(key: string, response: CachedResponse): void;
}

/**
 * Rendered responses in memory, so a gallery re-requesting the same thumbnails behind no CDN
 * costs a copy, over an optional `store`. The key names the response's bytes: its ETag (source
 * version, render revision, quality) and canonical path, so equivalent URLs share an entry and a
 * changed source never serves old pixels. Memory is bounded in bytes; one response may take at
 * most an eighth of it, so a full-size render cannot flush the thumbnails. `undefined` when the
 * bound is 0 and there is no store (off).
 */
export function createResponseCache(maxBytes: number, store?: ResponseStore): ResponseCache | undefined {
  if (maxBytes <= 0 && !store) return undefined;
  const entries =
    maxBytes > 0
      ? new LRUCache<string, CachedResponse>({
          maxSize: maxBytes,
          maxEntrySize: Math.max(1, Math.floor(maxBytes / 8)),
          sizeCalculation: (r) => r.body.byteLength + ENTRY_OVERHEAD,
        })
      : undefined;
  const stats = { hits: 0, misses: 0 };
  return {
    stats,
    async get(key) {
      const found = entries?.get(key);
      if (found) {
        stats.hits++;
        store?.touch?.(key);
        return { ...found, from: 'memory' };
      }
      const stored = await store?.get(key);
      if (!stored) {
        stats.misses++;
        return undefined;
      }
      stats.hits++;
      entries?.set(key, kept(stored));
      return { ...stored, from: 'store' };
    },
    set(key, response) {
      entries?.set(key, kept(response));
      store?.set(key, response);
    },
  };
}

/**
 * What keeping one entry costs beyond its body (key, objects, the copy's allocation, the LRU's
 * slots): measured at about 1.5 KB per entry in RSS over 20,000 distinct thumbnails (docs/configuration.md).
 */
export const ENTRY_OVERHEAD = 1536;

/**
 * A right-sized copy in the JS heap. A renderer's body can be a view of a larger buffer or of
 * memory allocated outside it (sharp's output is libvips memory, several KB per small body), which
 * the byte bound would not see.
 */
const kept = (response: CachedResponse): CachedResponse => ({ ...response, body: new Uint8Array(response.body) });

/** Hits over lookups since start (0 before the first). */
export const hitRate = ({ hits, misses }: ResponseCacheStats): number => (hits + misses === 0 ? 0 : hits / (hits + misses));
