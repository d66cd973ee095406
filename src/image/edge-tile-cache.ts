import { LRUCache } from 'lru-cache';
import { ENTRY_OVERHEAD } from '../http/response-cache.ts';

/**
 * Cropped edge tiles (the right column and bottom row of every level, and crops by a rounding
 * pixel): cropping re-packs the JPEG's entropy data, so the bytes are kept, bounded in bytes.
 * Keys hold the source ETag, so a changed file never serves its old tiles.
 */
export interface EdgeTileCache {
  get(key: string): Uint8Array | undefined;
  set(key: string, bytes: Uint8Array): void;
  /** Tiles kept. */
  readonly size: number;
}

/**
 * `undefined` when the bound is 0 (off). Each tile counts its bytes plus what keeping it costs
 * (its key and the cache's bookkeeping, as for rendered responses): counted by bytes alone, a
 * 16 MiB cache of 682-byte tiles grew RSS by 56 MiB. A tile that is a view of a larger buffer
 * is copied, so the cache never holds the rest of that buffer.
 */
export function createEdgeTileCache(maxBytes: number): EdgeTileCache | undefined {
  if (maxBytes <= 0) return undefined;
  const lru = new LRUCache<string, Uint8Array>({ maxSize: maxBytes, sizeCalculation: (bytes) => bytes.byteLength + ENTRY_OVERHEAD });
  return {
    get: (key) => lru.get(key),
    set(key, bytes) {
      lru.set(key, bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice());
    },
    get size() {
      return lru.size;
    },
  };
}

/** Source identity (identifier and ETag), then the level, cell and output size. */
export const edgeTileKey = (identifier: string, etag: string, level: number, col: number, row: number, width: number, height: number): string =>
  `${etag}\u0000${identifier}\u0000${level}/${col}/${row}/${width}x${height}`;
