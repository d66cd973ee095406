import type { Sharp } from 'sharp';
import type { RenderPlan } from '../iiif/types.ts';
import type { RenderInput } from './renderer.ts';
import { type TiffLevel, TiffError, isPassThroughJpeg, spliceJpegTile, spliceOptionsFor } from '../tiff/index.ts';
import { tileLocator } from '../image/tile-passthrough.ts';

type SharpFactory = (typeof import('sharp'))['default'];

/** Largest canvas of stored tiles assembled in memory (3 bytes a pixel). */
const MAX_CANVAS_PIXELS = 32 * 1024 * 1024;
/** Tiles read and decoded at once for one request. */
const PARALLEL_TILES = 8;

/** The level to assemble from stored JPEG tiles, when that is possible and small enough. */
export function composableLevel(input: RenderInput, plan: RenderPlan): TiffLevel | undefined {
  const level = input.geometry.tiffLevels?.[plan.level];
  if (!level || !isPassThroughJpeg(level)) return undefined;
  const r = plan.levelRegion;
  const cols = Math.floor((r.x + r.w - 1) / level.tileWidth) - Math.floor(r.x / level.tileWidth) + 1;
  const rows = Math.floor((r.y + r.h - 1) / level.tileHeight) - Math.floor(r.y / level.tileHeight) + 1;
  return cols * rows * level.tileWidth * level.tileHeight <= MAX_CANVAS_PIXELS ? level : undefined;
}

/**
 * Reads only the stored tiles that cover the request's region at the chosen
 * level (range reads, no whole-object download), decodes them onto one canvas
 * and returns the exact level region as a new pipeline.
 */
export async function composeTiles(sharp: SharpFactory, input: RenderInput, plan: RenderPlan, level: TiffLevel): Promise<Sharp> {
  const r = plan.levelRegion;
  const [c0, r0] = [Math.floor(r.x / level.tileWidth), Math.floor(r.y / level.tileHeight)];
  const [c1, r1] = [Math.floor((r.x + r.w - 1) / level.tileWidth), Math.floor((r.y + r.h - 1) / level.tileHeight)];
  const read = (offset: number, length: number) =>
    input.source.read(input.identifier, { offset, length }, input.signal);
  const locate = tileLocator(read, input.geometry);
  const cells: Array<{ col: number; row: number }> = [];
  for (let row = r0; row <= r1; row++) for (let col = c0; col <= c1; col++) cells.push({ col, row });

  // Each tile is decoded on its own and only its part inside the region is copied:
  // cheaper than libvips' composite, and the canvas is exactly the region.
  const channels = level.samplesPerPixel === 1 ? 1 : 3;
  const canvas = Buffer.alloc(r.w * r.h * channels);
  const place = async ({ col, row }: { col: number; row: number }) => {
    const loc = await locate(level, col, row);
    const jpeg = spliceJpegTile(level.jpegTables, await read(loc.offset, loc.length), spliceOptionsFor(level));
    const { data, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== channels) throw new TiffError('Unexpected channel count in a TIFF tile.');
    const x0 = Math.max(r.x, col * level.tileWidth);
    const x1 = Math.min(r.x + r.w, (col + 1) * level.tileWidth, col * level.tileWidth + info.width);
    const y0 = Math.max(r.y, row * level.tileHeight);
    const y1 = Math.min(r.y + r.h, (row + 1) * level.tileHeight, row * level.tileHeight + info.height);
    for (let y = y0; y < y1; y++) {
      const from = ((y - row * level.tileHeight) * info.width + (x0 - col * level.tileWidth)) * channels;
      canvas.set(data.subarray(from, from + (x1 - x0) * channels), ((y - r.y) * r.w + (x0 - r.x)) * channels);
    }
  };
  for (let i = 0; i < cells.length; i += PARALLEL_TILES) await Promise.all(cells.slice(i, i + PARALLEL_TILES).map(place));
  return sharp(canvas, { raw: { width: r.w, height: r.h, channels } });
}
