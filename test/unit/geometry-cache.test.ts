/**
 * 11.6: the geometry cache is bounded in bytes. Many distinct pyramids (hard links of one TIFF
 * with small tiles, so big tile tables) are probed and their tile tables read, as a viewer
 * does; the tables the cache still holds stay under its byte bound.
 */
import { link, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGeometryCache, geometryBytes } from '../../src/image/geometry-cache.ts';
import { resolveImage } from '../../src/image/resolve.ts';
import { tileLocator } from '../../src/image/tile-passthrough.ts';
import { readCoveringTiff } from '../../src/image/covering-tiff.ts';
import type { RenderInput } from '../../src/renderers/renderer.ts';
import { fsSource } from '../../src/sources/fs-source.ts';
import { colourGrid } from '../helpers/tiff-fixtures.ts';

const LINKS = 40;
const BOUND = 2 * 1024 * 1024;
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'iiif-edge-geometry-'));
  // 16 px tiles: a 2048² pyramid has about 22,000 tiles, 350 KB of tables once read.
  const tif = await sharp(colourGrid(2048, 2048, 3), { raw: { width: 2048, height: 2048, channels: 3 } })
    .tiff({ compression: 'jpeg', quality: 50, tile: true, tileWidth: 16, tileHeight: 16, pyramid: true })
    .toBuffer();
  await writeFile(join(root, 'p0.tif'), tif);
  for (let i = 1; i < LINKS; i++) await link(join(root, 'p0.tif'), join(root, `p${i}.tif`));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('11.6 geometry cache bounded in bytes', () => {
  it('keeps the tile tables it holds under IIIF_GEOMETRY_CACHE_BYTES, however many pyramids are seen', async () => {
    const source = fsSource({ root });
    const cache = createGeometryCache(BOUND);
    for (let i = 0; i < LINKS; i++) {
      const { geometry } = await resolveImage(source, cache, `p${i}.tif`);
      const read = (offset: number, length: number) => source.read(`p${i}.tif`, { offset, length });
      const locate = tileLocator(read, geometry);
      for (const level of geometry.tiffLevels ?? []) await locate(level, 0, 0);
    }
    // Measured from what is really retained: the loaded Float64Array tables of cached entries.
    let retained = 0;
    let kept = 0;
    for (let i = 0; i < LINKS; i++) {
      const object = await source.stat(`p${i}.tif`);
      const geometry = cache.get(`p${i}.tif`, object.etag);
      if (!geometry) continue;
      kept++;
      for (const tables of geometry.tileTables?.values() ?? []) {
        const t = await tables;
        retained += (t?.offsets.byteLength ?? 0) + (t?.counts.byteLength ?? 0);
      }
    }
    expect(retained).toBeGreaterThan(0);
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(LINKS);
    expect(retained).toBeLessThanOrEqual(BOUND);
    expect(cache.calculatedSize).toBeLessThanOrEqual(BOUND);
  });

  it('reads a tile\'s entries one by one, and keeps the geometry, when whole tables would take over a quarter of the cache', async () => {
    // About 350 KB of tables against a 256 KiB cache: read whole, the entry was never kept, so
    // every tile request probed the file again and read its level's tables (128 KB) again.
    const fs = fsSource({ root });
    let bytesRead = 0;
    const source = { ...fs, read: async (...args: Parameters<typeof fs.read>) => {
      const bytes = await fs.read(...args);
      bytesRead += bytes.byteLength;
      return bytes;
    } };
    const cache = createGeometryCache(256 * 1024);
    const perRequest: number[] = [];
    const found = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const before = bytesRead;
      const { geometry } = await resolveImage(source, cache, 'p0.tif');
      const locate = tileLocator((offset, length) => source.read('p0.tif', { offset, length }), geometry);
      const level = geometry.tiffLevels?.[0];
      if (!level) throw new Error('no level');
      const { offset, length } = await locate(level, 5, 7);
      expect(length).toBeGreaterThan(0);
      found.add(`${offset} ${length}`);
      perRequest.push(bytesRead - before);
    }
    expect(found.size).toBe(1);
    // After the first (the probe), a request reads one window holding the tile's two entries
    // (at most 64 KiB): not the probe again and the level's 128 KB of tables.
    for (const bytes of perRequest.slice(1)) expect(bytes).toBeLessThanOrEqual(64 * 1024);
    expect(cache.calculatedSize).toBeLessThanOrEqual(256 * 1024);
  });

  it('reads the entries of a region\'s covering tiles two reads a grid row, not one read a tile, when tables are not kept', async () => {
    const fs = fsSource({ root });
    const cache = createGeometryCache(256 * 1024);
    const { object, geometry } = await resolveImage(fs, cache, 'p0.tif');
    const level = geometry.tiffLevels?.[0];
    if (!level || !geometry.tilesOneByOne) throw new Error('expected a level whose tables are not kept');
    const inTables = (offset: number) =>
      [level.offsets, level.byteCounts].some((a) => offset >= a.offset && offset < a.offset + level.columns * level.rows * 8);
    let tableReads = 0;
    // A remote store: every read is a round trip.
    const source = { ...fs, local: false, read: async (...args: Parameters<typeof fs.read>) => {
      if (inTables(args[1]?.offset ?? 0)) tableReads++;
      return fs.read(...args);
    } };
    const input = { identifier: 'p0.tif', object, source, geometry } as unknown as RenderInput;
    // 16×16 tiles of 16 px.
    const subset = await readCoveringTiff(input, level, { x: 512, y: 512, w: 256, h: 256 }, 64 * 1024 * 1024);
    expect([subset.width, subset.height]).toEqual([256, 256]);
    expect(tableReads).toBeLessThanOrEqual(2 * 16 + 2);
  });

  it('charges an entry at least the tables it can come to hold', async () => {
    const source = fsSource({ root });
    const cache = createGeometryCache(64 * 1024 * 1024);
    const { geometry } = await resolveImage(source, cache, 'p0.tif');
    const tiles = (geometry.tiffLevels ?? []).reduce((n, l) => n + l.columns * l.rows, 0);
    expect(tiles).toBeGreaterThan(20_000);
    expect(geometryBytes('p0.tif', geometry)).toBeGreaterThanOrEqual(tiles * 16);
  });
});
