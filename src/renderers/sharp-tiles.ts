import type { Sharp } from 'sharp';
import type { RenderPlan } from '../iiif/types.ts';
import type { RenderInput } from '../renderer.ts';
import { type TiffLevel, isPassThroughJpeg, spliceJpegTile, spliceOptionsFor } from '../tiff/index.ts';
import { tileLocator } from '../tile-passthrough.ts';

type SharpFactory = (typeof import('sharp'))['default'];

/** Largest canvas of stored tiles assembled in memory (3 bytes a pixel). */
const MAX_CANVAS_PIXELS = 32 * 1024 * 1024;
/** Tile reads in flight at once for one request. */
const PARALLEL_READS = 8;

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

  const tiles: Array<{ input: Buffer; left: number; top: number }> = [];
  for (let i = 0; i < cells.length; i += PARALLEL_READS) {
    const batch = cells.slice(i, i + PARALLEL_READS).map(async ({ col, row }) => {
      const loc = await locate(level, col, row);
      const bytes = await read(loc.offset, loc.length);
      return {
        input: Buffer.from(spliceJpegTile(level.jpegTables, bytes, spliceOptionsFor(level))),
        left: (col - c0) * level.tileWidth,
        top: (row - r0) * level.tileHeight,
      };
    });
    tiles.push(...(await Promise.all(batch)));
  }
  const channels = level.samplesPerPixel === 1 ? 1 : 3;
  const width = (c1 - c0 + 1) * level.tileWidth;
  const height = (r1 - r0 + 1) * level.tileHeight;
  const { data, info } = await sharp({ create: { width, height, channels: 3, background: '#000' } })
    .composite(tiles)
    .raw()
    .toBuffer({ resolveWithObject: true });
  const canvas = sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } });
  const cropped = canvas.extract({ left: r.x - c0 * level.tileWidth, top: r.y - r0 * level.tileHeight, width: r.w, height: r.h });
  return channels === 1 ? cropped.toColourspace('b-w') : cropped;
}
