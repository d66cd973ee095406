import { TiffError } from './errors.ts';
import { Tag } from './tags.ts';
import type { TiffLevel } from './types.ts';

/**
 * Compressions whose tiles decode on their own, with nothing shared between tiles beyond
 * the tags we copy: none, LZW, JPEG (with its JPEGTables), deflate (both codes), PackBits,
 * zstd and WebP.
 */
const SELF_CONTAINED = new Set([1, 5, 7, 8, 32946, 32773, 50000, 50001]);
/** MinIsWhite, MinIsBlack, RGB and (for JPEG) YCbCr; a palette's ColorMap is not copied. */
const PLAIN_PHOTOMETRIC = new Set([0, 1, 2]);
const JPEG = 7;
const YCBCR = 6;

/** Whether a level's covering tiles (or strips) can be handed to a decoder as a TIFF of their own. */
export function canSubsetTiles(level: TiffLevel): boolean {
  return (
    level.planarConfiguration === 1 &&
    level.orientation === 1 &&
    SELF_CONTAINED.has(level.compression) &&
    (PLAIN_PHOTOMETRIC.has(level.photometric ?? -1) || (level.compression === JPEG && level.photometric === YCBCR))
  );
}

/** A rectangle of a level's tile grid. */
export interface TileGrid {
  col0: number;
  row0: number;
  cols: number;
  rows: number;
}

/** The tiles covering a region of the level, in its own pixels. */
export function coveringGrid(level: TiffLevel, r: { x: number; y: number; w: number; h: number }): TileGrid {
  const col0 = Math.floor(r.x / level.tileWidth);
  const row0 = Math.floor(r.y / level.tileHeight);
  const cols = Math.floor((r.x + r.w - 1) / level.tileWidth) - col0 + 1;
  const rows = Math.floor((r.y + r.h - 1) / level.tileHeight) - row0 + 1;
  return { col0, row0, cols, rows };
}

interface Field {
  tag: number;
  /** 3 SHORT, 4 LONG or 7 UNDEFINED (bytes). */
  type: 3 | 4 | 7;
  values: number[] | Uint8Array;
}

const FIELD_SIZE = { 3: 2, 4: 4, 7: 1 } as const;

/**
 * A little-endian classic TIFF holding just `tiles` (the grid's stored tiles, row by row,
 * as read from the file; or strips, for a striped level) as one image, so that a decoder
 * reads the region from a few tiles instead of the whole file. Its size is the grid's,
 * clipped at the level's edges.
 */
export function buildTileSubset(level: TiffLevel, grid: TileGrid, tiles: Uint8Array[], iccProfile?: Uint8Array): { bytes: Uint8Array; width: number; height: number } {
  if (tiles.length !== grid.cols * grid.rows) throw new TiffError('TIFF tile subset is incomplete.');
  const width = Math.min(level.width, (grid.col0 + grid.cols) * level.tileWidth) - grid.col0 * level.tileWidth;
  const height = Math.min(level.height, (grid.row0 + grid.rows) * level.tileHeight) - grid.row0 * level.tileHeight;
  const samples = level.samplesPerPixel;
  const perSample = (values: number[]) => Array.from({ length: samples }, (_, i) => values[i] ?? values[0] ?? 0);
  const fields: Field[] = [
    { tag: Tag.ImageWidth, type: 4, values: [width] },
    { tag: Tag.ImageLength, type: 4, values: [height] },
    { tag: Tag.BitsPerSample, type: 3, values: perSample(level.bitsPerSample) },
    { tag: Tag.Compression, type: 3, values: [level.compression] },
    { tag: Tag.Photometric, type: 3, values: [level.photometric ?? 1] },
    { tag: Tag.SamplesPerPixel, type: 3, values: [samples] },
    { tag: Tag.PlanarConfiguration, type: 3, values: [1] },
  ];
  // Offsets are filled in below, once the layout is known.
  const offsetsField: Field = { tag: level.tiled ? Tag.TileOffsets : Tag.StripOffsets, type: 4, values: tiles.map(() => 0) };
  const counts = tiles.map((t) => t.length);
  if (level.tiled) {
    fields.push({ tag: Tag.TileWidth, type: 4, values: [level.tileWidth] }, { tag: Tag.TileLength, type: 4, values: [level.tileHeight] });
    fields.push(offsetsField, { tag: Tag.TileByteCounts, type: 4, values: counts });
  } else {
    fields.push(offsetsField, { tag: Tag.RowsPerStrip, type: 4, values: [level.tileHeight] }, { tag: Tag.StripByteCounts, type: 4, values: counts });
  }
  if (level.predictor !== undefined) fields.push({ tag: Tag.Predictor, type: 3, values: [level.predictor] });
  if (level.extraSamples?.length) fields.push({ tag: Tag.ExtraSamples, type: 3, values: level.extraSamples });
  if (level.sampleFormat?.length) fields.push({ tag: Tag.SampleFormat, type: 3, values: perSample(level.sampleFormat) });
  if (level.jpegTables?.length) fields.push({ tag: Tag.JPEGTables, type: 7, values: level.jpegTables });
  if (level.ycbcrSubsampling?.length) fields.push({ tag: Tag.YCbCrSubsampling, type: 3, values: level.ycbcrSubsampling });
  // So that the decoder converts the colours as from the file itself.
  if (iccProfile?.length) fields.push({ tag: Tag.InterColorProfile, type: 7, values: iccProfile });
  fields.sort((a, b) => a.tag - b.tag);

  const ifdSize = 2 + fields.length * 12 + 4;
  const valueSize = (f: Field) => f.values.length * FIELD_SIZE[f.type];
  let external = 8 + ifdSize;
  const valueAt = new Map<Field, number>();
  for (const f of fields) {
    if (valueSize(f) <= 4) continue;
    valueAt.set(f, external);
    external += valueSize(f) + (valueSize(f) % 2);
  }
  let dataAt = external;
  const offsets: number[] = [];
  for (const tile of tiles) {
    offsets.push(dataAt);
    dataAt += tile.length;
  }
  offsetsField.values = offsets;
  if (dataAt > 0xffffffff) throw new TiffError('TIFF tile subset too large.');

  const out = new Uint8Array(dataAt);
  const view = new DataView(out.buffer);
  out.set([0x49, 0x49, 42, 0]);
  view.setUint32(4, 8, true);
  view.setUint16(8, fields.length, true);
  const write = (at: number, f: Field) => {
    if (f.values instanceof Uint8Array) out.set(f.values, at);
    else f.values.forEach((v, i) => (f.type === 3 ? view.setUint16(at + i * 2, v, true) : view.setUint32(at + i * 4, v, true)));
  };
  fields.forEach((f, i) => {
    const at = 10 + i * 12;
    view.setUint16(at, f.tag, true);
    view.setUint16(at + 2, f.type, true);
    view.setUint32(at + 4, f.values.length, true);
    const external = valueAt.get(f);
    if (external === undefined) write(at + 8, f);
    else {
      view.setUint32(at + 8, external, true);
      write(external, f);
    }
  });
  tiles.forEach((tile, i) => out.set(tile, offsets[i] ?? 0));
  return { bytes: out, width, height };
}
