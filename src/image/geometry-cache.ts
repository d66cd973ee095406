import { LRUCache } from 'lru-cache';
import type { SourceGeometry } from './geometry.ts';
import { MAX_TABLE_ENTRIES } from '../tiff/index.ts';

interface Entry {
  etag: string;
  geometry: SourceGeometry;
}

/** Object headers, the identifier and the level list: a generous flat charge per entry. */
const ENTRY_BYTES = 2048;
/** A parsed level's fields and arrays. */
const LEVEL_BYTES = 512;
/** Two Float64Array values per tile: offset and byte count. */
const TABLE_BYTES_PER_TILE = 16;
/** A located JPEG 2000 tile-part: a small object and its array slot. */
const TILE_PART_BYTES = 48;

/**
 * Largest share of the cache one entry's tile tables may take. Past it the tables are not read
 * whole: a larger entry would evict the rest, or not be kept at all and so be probed, and its
 * tables read again, for every tile.
 */
const TABLES_SHARE = 1 / 4;

/** The tile tables an entry would hold once every level's were read. */
function tableBytes(geometry: SourceGeometry): number {
  let bytes = 0;
  for (const level of geometry.tiffLevels ?? []) {
    const tiles = level.columns * level.rows;
    if (tiles <= MAX_TABLE_ENTRIES) bytes += tiles * TABLE_BYTES_PER_TILE;
  }
  return bytes;
}

/**
 * What an entry can come to hold: the geometry, plus every level's tile tables as if all
 * were read (they are filled in later, on the entry's first tiles). Charging the worst case
 * up front keeps the cache under its byte bound without re-measuring entries as they grow.
 */
export function geometryBytes(identifier: string, geometry: SourceGeometry): number {
  let bytes = ENTRY_BYTES + identifier.length * 2 + (geometry.tilesOneByOne ? 0 : tableBytes(geometry));
  for (const level of geometry.tiffLevels ?? []) bytes += LEVEL_BYTES + (level.jpegTables?.length ?? 0);
  // Tile-parts from TLM, or at least one a tile once a local file's SOT markers are walked.
  if (geometry.jp2) bytes += (geometry.jp2.tileParts?.length ?? geometry.jp2.columns * geometry.jp2.rows) * TILE_PART_BYTES;
  return bytes;
}

export interface GeometryCache {
  get(identifier: string, etag: string): SourceGeometry | undefined;
  set(identifier: string, etag: string, geometry: SourceGeometry): void;
}

/**
 * Per-process geometry of recently seen images, so the hundreds of tile requests a viewer
 * makes for one image probe it once. Bounded in bytes (IIIF_GEOMETRY_CACHE_BYTES), not
 * entries: one pyramid's tile tables can be megabytes. An entry is only used while the
 * source still reports the same ETag.
 */
export function createGeometryCache(maxBytes: number): GeometryCache & { readonly calculatedSize: number } {
  const cache = new LRUCache<string, Entry>({
    maxSize: maxBytes,
    sizeCalculation: (entry, identifier) => geometryBytes(identifier, entry.geometry),
  });
  return {
    get(identifier: string, etag: string): SourceGeometry | undefined {
      const hit = cache.get(identifier);
      return hit && hit.etag === etag ? hit.geometry : undefined;
    },
    /** An entry larger than the whole cache is not kept; the next request probes again. */
    set(identifier: string, etag: string, geometry: SourceGeometry): void {
      if (tableBytes(geometry) > maxBytes * TABLES_SHARE) geometry.tilesOneByOne = true;
      cache.set(identifier, { etag, geometry });
    },
    /** Bytes charged for the entries held. */
    get calculatedSize(): number {
      return cache.calculatedSize;
    },
  };
}

