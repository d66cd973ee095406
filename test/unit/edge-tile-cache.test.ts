import { describe, expect, it } from 'vitest';
import { ENTRY_OVERHEAD } from '../../src/http/response-cache.ts';
import { createEdgeTileCache, edgeTileKey } from '../../src/image/edge-tile-cache.ts';

describe('edge-tile cache bound', () => {
  it('counts what keeping a tile costs, so many small edge tiles stay within the bound', () => {
    // A review filled a 16 MiB cache with 682-byte tiles (a 16-px-tile pyramid's mean): 24,600 of
    // them, and RSS grew 56 MiB. Each entry's key and bookkeeping cost about as much again.
    const bound = 1024 * 1024;
    const cache = createEdgeTileCache(bound)!;
    const count = 5000;
    for (let i = 0; i < count; i++) cache.set(edgeTileKey('a.tif', '"etag"', 1, i, 0, 15, 256), new Uint8Array(682));
    expect(cache.size).toBe(Math.floor(bound / (682 + ENTRY_OVERHEAD)));
  });

  it('keeps a right-sized copy of a tile handed in as a view of a larger buffer', () => {
    const cache = createEdgeTileCache(1024 * 1024)!;
    const backing = new Uint8Array(64 * 1024).fill(3);
    const key = edgeTileKey('a.tif', '"etag"', 0, 1, 2, 100, 100);
    cache.set(key, backing.subarray(10, 510));
    backing.fill(4);
    const kept = cache.get(key);
    expect(kept?.byteLength).toBe(500);
    expect(kept?.buffer.byteLength).toBe(500);
    expect(kept?.every((v) => v === 3)).toBe(true);
  });
});
