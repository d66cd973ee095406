import { LRUCache } from 'lru-cache';
import type { SourceGeometry } from './geometry.ts';

interface Entry {
  etag: string;
  geometry: SourceGeometry;
}

/**
 * Per-process geometry of recently seen images, so the hundreds of tile
 * requests a viewer makes for one image probe it once. An entry is only
 * used while the source still reports the same ETag.
 */
export function createGeometryCache(max = 2000) {
  const cache = new LRUCache<string, Entry>({ max });
  return {
    get(identifier: string, etag: string): SourceGeometry | undefined {
      const hit = cache.get(identifier);
      return hit && hit.etag === etag ? hit.geometry : undefined;
    },
    set(identifier: string, etag: string, geometry: SourceGeometry): void {
      cache.set(identifier, { etag, geometry });
    },
  };
}

export type GeometryCache = ReturnType<typeof createGeometryCache>;
