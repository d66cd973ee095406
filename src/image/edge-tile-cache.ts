import { LRUCache } from 'lru-cache';

/**
 * Cropped edge tiles (the right column and bottom row of every level, and crops by a rounding
 * pixel): cropping re-packs the JPEG's entropy data, so the bytes are kept, bounded in bytes.
 * Keys hold the source ETag, so a changed file never serves its old tiles.
 */
export type EdgeTileCache = LRUCache<string, Uint8Array>;

/** `undefined` when the bound is 0 (off). */
export function createEdgeTileCache(maxBytes: number): EdgeTileCache | undefined {
  if (maxBytes <= 0) return undefined;
  return new LRUCache<string, Uint8Array>({ maxSize: maxBytes, sizeCalculation: (bytes) => bytes.byteLength || 1 });
}

/** Source identity (identifier and ETag), then the level, cell and output size. */
export const edgeTileKey = (identifier: string, etag: string, level: number, col: number, row: number, width: number, height: number): string =>
  `${etag}\u0000${identifier}\u0000${level}/${col}/${row}/${width}x${height}`;
