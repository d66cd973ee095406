import { LRUCache } from 'lru-cache';

export interface CachedResponse {
  body: Uint8Array<ArrayBuffer>;
  /** How it was first made, for logs and Server-Timing. */
  via: 'tiles' | 'render';
}

/** Lookups since start, for the runtime's metrics and the hit rate in Server-Timing. */
export interface ResponseCacheStats {
  hits: number;
  misses: number;
}

export interface ResponseCache {
  stats: ResponseCacheStats;
  get(etag: string, canonicalPath: string): CachedResponse | undefined;
  set(etag: string, canonicalPath: string, response: CachedResponse): void;
}

/**
 * Rendered responses in memory, so a gallery re-requesting the same thumbnails behind no CDN
 * costs a copy. Keyed by the source ETag and the canonical path (prefix, version, identifier,
 * parameters), so equivalent URLs share an entry and a changed source never serves old pixels.
 * Bounded in bytes; one response may take at most an eighth of it, so a full-size render
 * cannot flush the thumbnails. `undefined` when the bound is 0 (off).
 */
export function createResponseCache(maxBytes: number): ResponseCache | undefined {
  if (maxBytes <= 0) return undefined;
  const entries = new LRUCache<string, CachedResponse>({
    maxSize: maxBytes,
    maxEntrySize: Math.max(1, Math.floor(maxBytes / 8)),
    sizeCalculation: (r) => r.body.byteLength || 1,
  });
  const stats = { hits: 0, misses: 0 };
  const key = (etag: string, canonicalPath: string) => `${etag}\u0000${canonicalPath}`;
  return {
    stats,
    get(etag, canonicalPath) {
      const found = entries.get(key(etag, canonicalPath));
      if (found) stats.hits++;
      else stats.misses++;
      return found;
    },
    set: (etag, canonicalPath, response) => void entries.set(key(etag, canonicalPath), response),
  };
}

/** Hits over lookups since start (0 before the first). */
export const hitRate = ({ hits, misses }: ResponseCacheStats): number => (hits + misses === 0 ? 0 : hits / (hits + misses));
