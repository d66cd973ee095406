import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { bitsAfterLastMcu } from '../helpers/jpeg-scan-end.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { sharpRenderer } from '../../src/renderers/sharp-renderer.ts';
import type { ImageSource } from '../../src/sources/source.ts';
import { withDiskCache } from '../../src/sources/disk-cache.ts';
import { fsSource } from '../../src/sources/fs-source.ts';
import {
  type RangeRead,
  pyramidLevels,
  readTiffStructure,
  readTileTables,
  rewriteJpegFrameSize,
  spliceJpegTile,
  spliceOptionsFor,
  tileFromTables,
} from '../../src/tiff/index.ts';
import { PYRAMID, gridColour, gridPyramid, gridRaw } from '../fixtures/images.ts';

/** Mean absolute difference per channel between two decoded images of the same size. */
async function meanAbsDiff(a: Uint8Array, b: Uint8Array): Promise<number> {
  const [x, y] = await Promise.all([a, b].map((buf) => sharp(buf).removeAlpha().raw().toBuffer()));
  if (!x || !y || x.length !== y.length) throw new Error('sizes differ');
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += Math.abs((x[i] ?? 0) - (y[i] ?? 0));
  return sum / x.length;
}

function countingSource(inner: ImageSource) {
  const counts = { reads: 0, bytes: 0, whole: 0 };
  const source: ImageSource = {
    kind: inner.kind,
    stat: (id, signal) => inner.stat(id, signal),
    async read(id, range, signal) {
      const bytes = await inner.read(id, range, signal);
      counts.reads++;
      counts.bytes += bytes.length;
      // Whole: in one read, or in the disk cache's pieces (one, for objects under 8 MiB).
      if (!range || (range.offset === 0 && bytes.length === (await inner.stat(id)).size)) counts.whole++;
      return bytes;
    },
  };
  return { source, counts };
}

/** Every tile URL a viewer derives from info.json (3.0 implementation notes §3), `w,` form. */
function viewerTiles(width: number, height: number, tile: number, scaleFactors: number[]) {
  const urls: Array<{ scale: number; path: string; w: number; h: number }> = [];
  for (const s of scaleFactors) {
    for (let y = 0; y < height; y += tile * s) {
      for (let x = 0; x < width; x += tile * s) {
        const w = Math.min(tile * s, width - x);
        const h = Math.min(tile * s, height - y);
        const outW = Math.ceil(w / s);
        urls.push({ scale: s, path: `${x},${y},${w},${h}/${outW},/0/default`, w: outW, h: Math.max(1, Math.round((h * outW) / w)) });
      }
    }
  }
  return urls;
}

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'iiif-edge-tiles-'));
  await writeFile(join(root, 'rgb.tif'), await gridPyramid(95));
  await writeFile(join(root, 'ycbcr.tif'), await gridPyramid(75));
  await writeFile(join(root, 'flat.jpg'), await sharp(gridRaw(PYRAMID.width, PYRAMID.height), { raw: { width: PYRAMID.width, height: PYRAMID.height, channels: 3 } }).jpeg().toBuffer());
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe.each(['rgb.tif', 'ycbcr.tif'])('tile pass-through of %s', (name) => {
  const build = () => {
    const { source, counts } = countingSource(fsSource({ root }));
    const config = loadConfig({ IIIF_ROOT: root });
    const renderer = sharpRenderer({ jpegQuality: 90, maxInputPixels: 1e9 });
    return { app: createApp({ config, source, renderer }), counts };
  };

  it('serves every viewer tile at its exact size, matching the rendered path', async () => {
    const { app } = build();
    const info = (await (await app.request(`/iiif/3/${name}/info.json`)).json()) as {
      tiles: Array<{ width: number; scaleFactors: number[] }>;
    };
    const [tiles] = info.tiles;
    expect(tiles?.width).toBe(256);
    expect(tiles?.scaleFactors).toEqual([1, 2, 4, 8]);
    const paths = { passthrough: 0, tiles: 0, render: 0 };
    let worst = 0;
    let worstRounded = 0;
    for (const t of viewerTiles(PYRAMID.width, PYRAMID.height, 256, tiles?.scaleFactors ?? [])) {
      const res = await app.request(`/iiif/3/${name}/${t.path}.jpg`);
      expect(res.status, t.path).toBe(200);
      const path = /path;desc="(\w+)"/.exec(res.headers.get('server-timing') ?? '')?.[1];
      if (path === 'passthrough' || path === 'tiles' || path === 'render') paths[path]++;
      const jpg = new Uint8Array(await res.arrayBuffer());
      const meta = await sharp(jpg).metadata();
      expect([meta.width, meta.height], t.path).toEqual([t.w, t.h]);
      if (path !== 'passthrough') continue;
      // The same request as PNG always goes through the renderer.
      const rendered = new Uint8Array(await (await app.request(`/iiif/3/${name}/${t.path}.png`)).arrayBuffer());
      const mad = await meanAbsDiff(jpg, rendered);
      // At scale 8 the level is 250×187 but a viewer asks for 250×188.
      if (t.h === 188) worstRounded = Math.max(worstRounded, mad);
      else worst = Math.max(worst, mad);
    }
    // Levels 2000, 1000 and 500 wide are exact halvings: all their 48+12+4 tiles pass through. The
    // 250×188 one is the stored 250×187 tile with its last row repeated (render-fast-path.test.ts).
    expect(paths).toEqual({ passthrough: 65, tiles: 0, render: 0 });
    // Stored tiles are JPEG (quality 75–95) of a grid with hard 50 px edges; 4 levels of 255 is JPEG noise.
    expect(worst).toBeLessThan(4);
    // Against resizing by 188/187, the repeated row shifts the grid's edges by up to a pixel: measured 10.6–15.8.
    expect(worstRounded).toBeLessThan(20);
  });

  it('reads the level tables once, then one small range per tile, never the whole file', async () => {
    const { app, counts } = build();
    await app.request(`/iiif/3/${name}/info.json`);
    let before = { ...counts };
    const first = await app.request(`/iiif/3/${name}/1792,1280,208,220/208,/0/default.jpg`);
    expect(first.status).toBe(200);
    expect(first.headers.get('server-timing')).toContain('path;desc="passthrough"');
    // The level's offset and byte-count tables (48 entries each), then the tile.
    expect(counts.reads - before.reads).toBe(3);
    expect(counts.bytes - before.bytes).toBeLessThan(64 * 1024);
    before = { ...counts };
    const second = await app.request(`/iiif/3/${name}/0,0,256,256/256,/0/default.jpg`);
    expect(second.status).toBe(200);
    expect(counts.reads - before.reads).toBe(1);
    // One 256×256 JPEG tile: far below the file.
    expect(counts.bytes - before.bytes).toBeLessThan(48 * 1024);
  });

  it('keeps colours where they belong in a passed-through tile', async () => {
    const { app } = build();
    const res = await app.request(`/iiif/3/${name}/1024,512,512,512/256,/0/default.jpg`);
    const { data, info } = await sharp(new Uint8Array(await res.arrayBuffer())).raw().toBuffer({ resolveWithObject: true });
    const at = (x: number, y: number) => Array.from(data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3));
    // Output pixel (x, y) at scale 2 shows source pixel (1024 + 2x, 512 + 2y); sample cell centres.
    for (const [x, y] of [[12, 12], [137, 62], [240, 240]] as const) {
      const want = gridColour(1024 + 2 * x, 512 + 2 * y);
      at(x, y).forEach((v, i) => expect(Math.abs(v - (want[i] ?? 0)), `(${x},${y})`).toBeLessThan(24));
    }
  });
});

describe('rendering from a remote tiled pyramid', () => {
  it('reads only the stored tiles covering the region, and renders the same pixels as from a local file', async () => {
    const local = fsSource({ root });
    const { source, counts } = countingSource(local); // no localFile: like S3 or R2
    const config = loadConfig({ IIIF_ROOT: root });
    const renderer = sharpRenderer({ jpegQuality: 90, maxInputPixels: 1e9 });
    const remote = createApp({ config, source, renderer });
    const reference = createApp({ config, source: local, renderer });
    const path = '/iiif/3/ycbcr.tif/300,300,400,400/200,/0/default.png';

    await remote.request('/iiif/3/ycbcr.tif/info.json');
    const before = { ...counts };
    const res = await remote.request(path);
    expect(res.status).toBe(200);
    const composed = new Uint8Array(await res.arrayBuffer());
    // Level 1 (1000×750) covers 200 px from a 400 px region: its region 150,150,200,200 spans 2×2 tiles,
    // read after the level's two tables.
    expect(counts.reads - before.reads).toBe(6);
    const { size } = await local.stat('ycbcr.tif');
    expect(counts.bytes - before.bytes).toBeLessThan(size / 4);
    const fromFile = new Uint8Array(await (await reference.request(path)).arrayBuffer());
    expect(await meanAbsDiff(composed, fromFile)).toBeLessThan(1);
  });

  it('prefers the covering tiles to downloading the whole object into the disk cache', async () => {
    const { source, counts } = countingSource(fsSource({ root }));
    const cacheDir = await mkdtemp(join(tmpdir(), 'iiif-edge-tiles-cache-'));
    const cached = withDiskCache(source, { dir: cacheDir, maxBytes: 1e9 });
    const config = loadConfig({ IIIF_ROOT: root });
    const app = createApp({ config, source: cached, renderer: sharpRenderer({ jpegQuality: 90, maxInputPixels: 1e9 }) });
    await app.request('/iiif/3/ycbcr.tif/info.json');
    const before = { ...counts };
    expect((await app.request('/iiif/3/ycbcr.tif/300,300,400,400/200,/0/default.png')).status).toBe(200);
    expect(counts.reads - before.reads).toBe(6);
    // An untiled source has no such shortcut: it is fetched whole, once, into the cache.
    await app.request('/iiif/3/flat.jpg/full/100,/0/default.png');
    await app.request('/iiif/3/flat.jpg/full/50,/0/default.png');
    expect(counts.whole).toBe(1);
    await rm(cacheDir, { recursive: true, force: true });
  });
});

describe('edge-tile cache', () => {
  /** Today's crop, from the file with the TIFF reader: every cropped cell (right column, bottom row) of every level. */
  async function expectedEdgeTiles(file: string) {
    const bytes = await readFile(join(root, file));
    const read: RangeRead = async (offset, length) => bytes.subarray(offset, offset + length);
    const levels = pyramidLevels(await readTiffStructure(read, bytes.length));
    const out: Array<{ path: string; jpeg: Uint8Array }> = [];
    for (const level of levels) {
      const tables = await readTileTables(read, level);
      const scale = PYRAMID.width / level.width;
      const [cols, rows] = [Math.ceil(level.width / 256), Math.ceil(level.height / 256)];
      for (let row = 0; row < rows; row++) {
        for (let col = 0; col < cols; col++) {
          const [w, h] = [Math.min(256, level.width - col * 256), Math.min(256, level.height - row * 256)];
          if (w === 256 && h === 256) continue;
          const loc = tileFromTables(tables!, level, col, row);
          const tile = spliceJpegTile(level.jpegTables, await read(loc.offset, loc.length), spliceOptionsFor(level));
          const [x, y] = [col * 256 * scale, row * 256 * scale];
          const region = `${x},${y},${Math.min(256 * scale, PYRAMID.width - x)},${Math.min(256 * scale, PYRAMID.height - y)}`;
          out.push({ path: `${region}/${w},${h}/0/default.jpg`, jpeg: rewriteJpegFrameSize(tile, w, h) });
        }
      }
    }
    return out;
  }
  const build = (dir: string, env: Record<string, string> = {}) => {
    const { source, counts } = countingSource(fsSource({ root: dir }));
    return { app: createApp({ config: loadConfig({ IIIF_ROOT: dir, ...env }), source }), counts };
  };

  it.each(['rgb.tif', 'ycbcr.tif'])('%s: every edge tile of every level is byte-identical to the crop, then served without a read', async (name) => {
    const { app, counts } = build(root);
    const tiles = await expectedEdgeTiles(name);
    // 2000×1500 in 256 px tiles: 8+6-1, 4+3-1, 2+2-1 and 1 cropped cells.
    expect(tiles).toHaveLength(13 + 6 + 3 + 1);
    for (const { path, jpeg } of tiles) {
      const first = await app.request(`/iiif/3/${name}/${path}`);
      expect(first.headers.get('server-timing'), path).toContain('path;desc="passthrough"');
      expect(new Uint8Array(await first.arrayBuffer()), path).toEqual(jpeg);
      const before = counts.reads;
      const again = await app.request(`/iiif/3/${name}/${path}`);
      expect(new Uint8Array(await again.arrayBuffer()), path).toEqual(jpeg);
      expect(counts.reads - before, path).toBe(0);
    }
  });

  it.each(['rgb.tif', 'ycbcr.tif'])('%s: every edge tile is a JPEG that decoders read without a warning', async (name) => {
    // A bottom tile cut by its frame height alone kept the cut rows' entropy data: "extraneous
    // bytes before marker 0xd9", which libjpeg warns of and strict decoders refuse.
    const { app } = build(root);
    for (const { path } of await expectedEdgeTiles(name)) {
      const res = await app.request(`/iiif/3/${name}/${path}`);
      const [w, h] = path.split('/')[1]!.split(',').map(Number);
      const jpeg = new Uint8Array(await res.arrayBuffer());
      const { info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
      expect([info.width, info.height], path).toEqual([w, h]);
      expect(bitsAfterLastMcu(jpeg), path).toBeLessThan(8);
    }
  });

  it('forgets a file\'s tiles when its ETag changes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'iiif-edge-edges-'));
    await writeFile(join(dir, 'p.tif'), await readFile(join(root, 'rgb.tif')));
    const { app } = build(dir);
    const [tile] = await expectedEdgeTiles('rgb.tif');
    const url = `/iiif/3/p.tif/${tile!.path}`;
    expect(new Uint8Array(await (await app.request(url)).arrayBuffer())).toEqual(tile!.jpeg);
    // Same geometry, other bytes (Q75 YCbCr tiles), and a new mtime.
    await writeFile(join(dir, 'p.tif'), await readFile(join(root, 'ycbcr.tif')));
    await utimes(join(dir, 'p.tif'), new Date(), new Date(Date.now() + 5000));
    const [changed] = await expectedEdgeTiles('ycbcr.tif');
    expect(changed!.path).toBe(tile!.path);
    expect(new Uint8Array(await (await app.request(url)).arrayBuffer())).toEqual(changed!.jpeg);
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps no more bytes than IIIF_EDGE_TILE_CACHE_BYTES', async () => {
    const tiles = await expectedEdgeTiles('ycbcr.tif');
    const sizes = tiles.map((t) => t.jpeg.length);
    // Room for the two largest tiles, not three.
    const [a, b] = [...sizes].sort((x, y) => y - x);
    const bound = a! + b!;
    const { app, counts } = build(root, { IIIF_EDGE_TILE_CACHE_BYTES: String(bound) });
    const reads = async (path: string) => {
      const before = counts.reads;
      await (await app.request(`/iiif/3/ycbcr.tif/${path}`)).arrayBuffer();
      return counts.reads - before;
    };
    for (const t of tiles) await reads(t.path);
    // The latest tile stays; the first ones were evicted to stay within the bound.
    expect(await reads(tiles[tiles.length - 1]!.path)).toBe(0);
    expect(await reads(tiles[0]!.path)).toBe(1);
    expect(tiles.reduce((sum, t) => sum + t.jpeg.length, 0)).toBeGreaterThan(bound);
    // Off with 0: every request reads.
    const off = build(root, { IIIF_EDGE_TILE_CACHE_BYTES: '0' });
    await off.app.request(`/iiif/3/ycbcr.tif/${tiles[0]!.path}`);
    const before = off.counts.reads;
    await off.app.request(`/iiif/3/ycbcr.tif/${tiles[0]!.path}`);
    expect(off.counts.reads - before).toBe(1);
  });
});
