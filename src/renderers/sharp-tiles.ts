import type { Sharp } from 'sharp';
import type { RenderPlan } from '../iiif/types.ts';
import type { RenderInput } from './renderer.ts';
import { type TiffLevel, TiffError, isPassThroughJpeg, spliceJpegTile, spliceOptionsFor, withIccProfile } from '../tiff/index.ts';
import { iccProfileReader, tileLocator } from '../image/tile-passthrough.ts';

type SharpFactory = (typeof import('sharp'))['default'];

/** Largest canvas of stored tiles assembled in memory (3 bytes a pixel) from a remote store. */
const MAX_CANVAS_PIXELS = 32 * 1024 * 1024;
/**
 * From a local file libvips reads the level's tiles itself in one pipeline. Decoding stored tiles
 * one by one wins only for a single tile (`full/188,141`, about 25% in-process); for the four of
 * a `!200,200` thumbnail `npm run bench` measured 143 req/s composed against 188 through libvips.
 */
const MAX_LOCAL_CANVAS_PIXELS = 256 * 256;
/** Tiles read and decoded at once for one request. */
const PARALLEL_TILES = 8;

/** The level to assemble from stored JPEG tiles, when that is possible and small enough. */
export function composableLevel(input: RenderInput, plan: RenderPlan): TiffLevel | undefined {
  const level = input.geometry.tiffLevels?.[plan.level];
  if (!level || !isPassThroughJpeg(level)) return undefined;
  const r = plan.levelRegion;
  const cols = Math.floor((r.x + r.w - 1) / level.tileWidth) - Math.floor(r.x / level.tileWidth) + 1;
  const rows = Math.floor((r.y + r.h - 1) / level.tileHeight) - Math.floor(r.y / level.tileHeight) + 1;
  const max = input.source.local ? MAX_LOCAL_CANVAS_PIXELS : MAX_CANVAS_PIXELS;
  return cols * rows * level.tileWidth * level.tileHeight <= max ? level : undefined;
}

export interface ComposedRegion {
  image: Sharp;
  width: number;
  height: number;
}

/**
 * Reads only the stored tiles that cover the request's region at the chosen level (range
 * reads, no whole-object download), decodes them onto one canvas and returns the exact level
 * region as a new pipeline. Tiles are decoded at full scale: the level is already less than
 * twice the output, and libjpeg's scaled decode (1/2, 1/4) measured 3× the plain path's error
 * against the exact downscale on a 50 px grid.
 */
export async function composeTiles(sharp: SharpFactory, input: RenderInput, plan: RenderPlan, level: TiffLevel): Promise<ComposedRegion> {
  const r = plan.levelRegion;
  const [c0, r0] = [Math.floor(r.x / level.tileWidth), Math.floor(r.y / level.tileHeight)];
  const [c1, r1] = [Math.floor((r.x + r.w - 1) / level.tileWidth), Math.floor((r.y + r.h - 1) / level.tileHeight)];
  const read = (offset: number, length: number) =>
    input.source.read(input.identifier, { offset, length }, input.signal);
  // The level's tile table is shared by concurrent requests: no one client's hang-up may cancel it.
  const shared = (offset: number, length: number) => input.source.read(input.identifier, { offset, length });
  const locate = tileLocator(shared, input.geometry);
  // Each tile carries the level's colour profile, so that its decode converts it to sRGB as libvips does the file's.
  const profile = await iccProfileReader(shared, input.geometry)(level);
  const cells: Array<{ col: number; row: number }> = [];
  for (let row = r0; row <= r1; row++) for (let col = c0; col <= c1; col++) cells.push({ col, row });

  const [tw, th] = [level.tileWidth, level.tileHeight];
  const [left, top, width, height] = [r.x, r.y, r.w, r.h];
  // Each tile is decoded on its own and only its part inside the region is copied:
  // cheaper than libvips' composite, and the canvas is exactly the region.
  const channels = level.samplesPerPixel === 1 ? 1 : 3;
  const canvas = Buffer.alloc(width * height * channels);
  const place = async ({ col, row }: { col: number; row: number }) => {
    const loc = await locate(level, col, row);
    const jpeg = withIccProfile(spliceJpegTile(level.jpegTables, await read(loc.offset, loc.length), spliceOptionsFor(level)), profile);
    // sharp's raw output is sRGB unless told: a one-sample (greyscale) pyramid stays one channel.
    const { data, info } = await sharp(jpeg).toColourspace(channels === 1 ? 'b-w' : 'srgb').raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== channels) throw new TiffError('Unexpected channel count in a TIFF tile.');
    const x0 = Math.max(left, col * tw);
    const x1 = Math.min(left + width, (col + 1) * tw, col * tw + info.width);
    const y0 = Math.max(top, row * th);
    const y1 = Math.min(top + height, (row + 1) * th, row * th + info.height);
    for (let y = y0; y < y1; y++) {
      const from = ((y - row * th) * info.width + (x0 - col * tw)) * channels;
      canvas.set(data.subarray(from, from + (x1 - x0) * channels), ((y - top) * width + (x0 - left)) * channels);
    }
  };
  for (let i = 0; i < cells.length; i += PARALLEL_TILES) await Promise.all(cells.slice(i, i + PARALLEL_TILES).map(place));
  return { image: sharp(canvas, { raw: { width, height, channels } }), width, height };
}
