import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { probeGeometry } from '../../src/image/geometry.ts';
import { sharpRenderer } from '../../src/renderers/sharp-renderer.ts';
import type { ImageSource } from '../../src/sources/source.ts';
import { fsSource } from '../../src/sources/fs-source.ts';
import { gridPyramid } from '../fixtures/images.ts';

/** Mean absolute difference per channel (0–255) between two decoded images of the same size. */
async function meanAbsDiff(a: Uint8Array, b: Uint8Array): Promise<number> {
  const [x, y] = await Promise.all([a, b].map((buf) => sharp(buf).removeAlpha().raw().toBuffer()));
  if (!x || !y || x.length !== y.length) throw new Error('sizes differ');
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += Math.abs((x[i] ?? 0) - (y[i] ?? 0));
  return sum / x.length;
}

/** Counts reads; `remote` hides that the files are local (and their paths), like S3 or R2. */
function countingSource(inner: ImageSource, remote = false) {
  const counts = { reads: 0, bytes: 0 };
  const source: ImageSource = {
    kind: inner.kind,
    local: !remote && inner.local === true,
    stat: (id, signal) => inner.stat(id, signal),
    async read(id, range, signal) {
      const bytes = await inner.read(id, range, signal);
      counts.reads++;
      counts.bytes += bytes.length;
      return bytes;
    },
    ...(!remote && inner.localFile && { localFile: inner.localFile.bind(inner) }),
  };
  return { source, counts };
}

const pathOf = (res: Response) => /path;desc="(\w+)"/.exec(res.headers.get('server-timing') ?? '')?.[1];

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'iiif-edge-fast-'));
  await writeFile(join(root, 'rgb.tif'), await gridPyramid(95));
  await writeFile(join(root, 'ycbcr.tif'), await gridPyramid(75));
  await writeFile(join(root, 'grey.tif'), await gridPyramid(90, true));
});
afterAll(() => rm(root, { recursive: true, force: true }));

// Levels of the 2000×1500 pyramid: 2000×1500, 1000×750, 500×375, 250×187 (one tile).
describe.each(['rgb.tif', 'ycbcr.tif', 'grey.tif'])('fast paths of %s', (name) => {
  const build = (remote = false) => {
    const { source, counts } = countingSource(fsSource({ root }), remote);
    const config = loadConfig({ IIIF_ROOT: root });
    const renderer = sharpRenderer({ jpegQuality: 90, maxInputPixels: 1e9 });
    const app = createApp({ config, source, renderer });
    // The plain render path: libvips opens the file's level itself, no stored-tile shortcut.
    const plain = createApp({
      config,
      source: fsSource({ root }),
      renderer,
      probe: async (...args) => {
        const { tiffLevels: _, ...geometry } = await probeGeometry(...args);
        return geometry;
      },
    });
    return { app, plain, counts };
  };
  /** Our response, and the plain path's lossless (PNG) render of the same request. */
  const fetchBoth = async (apps: ReturnType<typeof build>, url: string) => {
    const res = await apps.app.request(url);
    expect(res.status, url).toBe(200);
    const body = new Uint8Array(await res.arrayBuffer());
    const plainRes = await apps.plain.request(url.replace(/\.jpg$/, '.png'));
    expect(plainRes.status, url).toBe(200);
    expect(pathOf(plainRes), url).toBe('render');
    return { path: pathOf(res), body, plain: new Uint8Array(await plainRes.arrayBuffer()) };
  };

  it('passes through a sizes entry that is one stored tile, exactly or one rounding pixel short', async () => {
    const apps = build();
    await apps.app.request(`/iiif/3/${name}/info.json`);
    const level = await sharp(await (await apps.plain.request(`/iiif/3/${name}/full/250,187/0/default.png`)).arrayBuffer());
    for (const [w, h] of [[250, 187], [249, 186], [250, 186], [249, 187]] as const) {
      const url = `/iiif/3/${name}/full/${w},${h}/0/default.jpg`;
      const before = { ...apps.counts };
      const { path, body, plain } = await fetchBoth(apps, url);
      expect(path, url).toBe('passthrough');
      expect(apps.counts.reads - before.reads, url).toBeLessThanOrEqual(3);
      const meta = await sharp(body).metadata();
      expect([meta.width, meta.height], url).toEqual([w, h]);
      // The level's pixels, cropped: measured ≤ 0.07 of 255 (the same stored tile, decoded twice).
      const levelCrop = await level.clone().extract({ left: 0, top: 0, width: w, height: h }).png().toBuffer();
      expect(await meanAbsDiff(body, levelCrop), url).toBeLessThan(0.5);
      // Against resizing by 249/250, a crop moves grid edges by up to a pixel: measured ≤ 10.5 of 255
      // on this 50 px grid (the plain path's own JPEG and PNG outputs differ by 4–9).
      expect(await meanAbsDiff(body, plain), url).toBeLessThan(12);
    }
  });

  it('makes a size one rounding pixel above a level (not passed through) from the next larger level', async () => {
    // OpenSeadragon rounds level sizes up: full/250,188 (level 3 stores 187 rows), and the bottom
    // tile at scale 4 asked as 256×120 (level 2 stores 119 rows); 1000,751 is level 1 (1000×750)
    // plus a row. Enlarged by a pixel, every pixel moves by up to one: the next larger level is
    // read instead (locally by libvips; from a remote store its 8×6 covering tiles for 1000,751).
    const cases = [
      { url: 'full/250,188', reads: undefined, remote: false },
      { url: '0,1024,1024,476/256,120', reads: undefined, remote: false },
      { url: '0,0,2000,1500/1000,751', reads: 48, remote: true },
    ];
    for (const { url, reads, remote } of cases) {
      const apps = build(remote);
      await apps.app.request(`/iiif/3/${name}/info.json`);
      const full = `/iiif/3/${name}/${url}/0/default.png`;
      await apps.app.request(full); // loads the level's tables
      const before = { ...apps.counts };
      const { path, body, plain } = await fetchBoth(apps, full);
      expect(path, url).toBe(remote ? 'tiles' : 'render');
      if (reads !== undefined) expect(apps.counts.reads - before.reads, url).toBe(reads);
      expect(await meanAbsDiff(body, plain), url).toBeLessThan(0.5);
    }
  });

  it('answers a JPEG one rounding pixel above a level with the stored tile, its edge repeated, without the renderer', async () => {
    // The requests OpenSeadragon makes of the smallest level and of a bottom tile at scale 4, and
    // the same size of the level's stored pixels.
    const apps = build();
    await apps.app.request(`/iiif/3/${name}/info.json`);
    for (const [url, exact, edge] of [
      ['full/250,188', 'full/250,187', 'bottom'],
      ['0,1024,1024,476/256,120', '0,1024,1024,476/256,119', 'bottom'],
      ['full/251,187', 'full/250,187', 'right'],
    ] as const) {
      const jpg = `/iiif/3/${name}/${url}/0/default.jpg`;
      // The level's pixels, from its tables (now loaded), with the last row or column repeated.
      const level = await (await apps.app.request(`/iiif/3/${name}/${exact}/0/default.png`)).arrayBuffer();
      const repeated = await sharp(level).extend({ [edge]: 1, extendWith: 'copy' }).png().toBuffer();
      const before = { ...apps.counts };
      const { path, body, plain } = await fetchBoth(apps, jpg);
      expect(path, url).toBe('passthrough');
      expect(apps.counts.reads - before.reads, url).toBe(1);
      const meta = await sharp(body).metadata();
      const [w = 0, h = 0] = url.split('/').at(-1)!.split(',').map(Number);
      expect([meta.width, meta.height], url).toEqual([w, h]);
      // Measured 0.01–0.20 of 255 over the image: only the edge blocks are quantised again.
      expect(await meanAbsDiff(body, repeated), url).toBeLessThan(0.3);
      // And on the added line alone: measured 0.2–0.6 on the 4:4:4 pyramid, 5.9–10.2 on the 4:2:0 one,
      // whose coarse chroma steps move the edge block's samples when it is quantised again
      // (the stored padding, black, would be ~130).
      const line = async (png: Uint8Array) => {
        const image = sharp(png).removeAlpha();
        const box = edge === 'bottom' ? { left: 0, top: h - 1, width: w, height: 1 } : { left: w - 1, top: 0, width: 1, height: h };
        return image.extract(box).raw().toBuffer();
      };
      const [ours, theirs] = await Promise.all([line(body), line(repeated)]);
      let sum = 0;
      for (let i = 0; i < ours.length; i++) sum += Math.abs((ours[i] ?? 0) - (theirs[i] ?? 0));
      expect(sum / ours.length, url).toBeLessThan(16);
      // Against libvips resizing the level by 188/187, the repeat shifts grid edges by up to a
      // pixel: measured 5.2–10.6 of 255 on the 4:4:4 pyramid, 9.0–15.8 on the 4:2:0 one.
      expect(await meanAbsDiff(body, plain), url).toBeLessThan(20);
    }
  });

  it('makes one-tile thumbnails from the covering tile of the best level; larger ones through libvips', async () => {
    const apps = build();
    await apps.app.request(`/iiif/3/${name}/info.json`);
    const { size } = await fsSource({ root }).stat(name);
    for (const [url, reads, want] of [
      ['full/!200,200', 1, 'tiles'], // level 3, one tile
      ['full/!100,100', 1, 'tiles'], // still level 3: the smallest
      // Level 2 (500×375), 2×2 tiles: from a local file libvips reads them itself, faster (bench).
      ['full/!400,400', undefined, 'render'],
    ] as const) {
      const full = `/iiif/3/${name}/${url}/0/default.png`;
      await apps.app.request(full);
      const before = { ...apps.counts };
      const { path, body, plain } = await fetchBoth(apps, full);
      expect(path, url).toBe(want);
      if (reads !== undefined) expect(apps.counts.reads - before.reads, url).toBe(reads);
      expect(apps.counts.bytes - before.bytes, url).toBeLessThan(size / 5);
      const [a, b] = await Promise.all([sharp(body).metadata(), sharp(plain).metadata()]);
      expect([a.width, a.height], url).toEqual([b.width, b.height]);
      // Same level, same resize: measured 0.00.
      expect(await meanAbsDiff(body, plain), url).toBeLessThan(0.5);
    }
  });

  it('reads only the tiles covering a region that is not tile-aligned, from a remote store', async () => {
    const apps = build(true);
    await apps.app.request(`/iiif/3/${name}/info.json`);
    // Full resolution, x 300..1000 (tiles 1..3), y 200..700 (tiles 0..2): 9 tiles, after 2 tables.
    const url = `/iiif/3/${name}/300,200,700,500/max/0/default.png`;
    const before = { ...apps.counts };
    const { path, body, plain } = await fetchBoth(apps, url);
    expect(path).toBe('tiles');
    expect(apps.counts.reads - before.reads).toBe(11);
    // Measured 0.00: the same tiles, decoded by the same libjpeg.
    expect(await meanAbsDiff(body, plain)).toBeLessThan(0.5);
  });
});
