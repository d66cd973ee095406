import { TiffError } from './errors.ts';
import { type Ifd, type IfdContext, type IfdEntry, MAX_ARRAY_COUNT, readBytes, readUints } from './ifd.ts';
import { Tag } from './tags.ts';
import type { TiffArray, TiffImage } from './types.ts';

/** TIFF dimensions are LONG; past 2^31 no decoder we feed copes. */
const MAX_DIMENSION = 2 ** 31 - 1;
const MAX_SAMPLES = 16;
/** JPEGTables hold a few DQT/DHT segments (< 1 KiB in practice). */
const MAX_JPEG_TABLES = 64 * 1024;

async function scalar(ctx: IfdContext, ifd: Ifd, tag: number, fallback?: number): Promise<number> {
  const entry = ifd.entries.get(tag);
  if (!entry || entry.count === 0) {
    if (fallback === undefined) throw new TiffError('Required TIFF tag missing.');
    return fallback;
  }
  // Only the first value matters (e.g. BitsPerSample repeats per sample).
  const first: IfdEntry = { ...entry, count: 1 };
  const [value] = await readUints(ctx, first, 1);
  return value ?? fallback ?? 0;
}

function dimension(value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > MAX_DIMENSION) throw new TiffError('TIFF dimension out of range.');
  return value;
}

function array(ifd: Ifd, tag: number, expected: number): TiffArray {
  const entry = ifd.entries.get(tag);
  if (!entry) throw new TiffError('TIFF image has no data offsets.');
  if (entry.type !== 3 && entry.type !== 4 && entry.type !== 16) throw new TiffError('Unexpected TIFF field type.');
  if (entry.count > MAX_ARRAY_COUNT || expected > MAX_ARRAY_COUNT) throw new TiffError('TIFF tile count out of range.');
  if (entry.count < expected) throw new TiffError('TIFF tile table too short.');
  return { offset: entry.valueOffset, count: entry.count, type: entry.type };
}

/** Turns a parsed IFD into an image description; `subImages` is filled by the caller. */
export async function imageFromIfd(ctx: IfdContext, ifd: Ifd): Promise<TiffImage> {
  const width = dimension(await scalar(ctx, ifd, Tag.ImageWidth));
  const height = dimension(await scalar(ctx, ifd, Tag.ImageLength));
  const samplesPerPixel = await scalar(ctx, ifd, Tag.SamplesPerPixel, 1);
  if (samplesPerPixel < 1 || samplesPerPixel > MAX_SAMPLES) throw new TiffError('TIFF samples per pixel out of range.');
  const bpsEntry = ifd.entries.get(Tag.BitsPerSample);
  const bitsPerSample = bpsEntry ? await readUints(ctx, bpsEntry, MAX_SAMPLES) : [1];
  const planarConfiguration = await scalar(ctx, ifd, Tag.PlanarConfiguration, 1);
  const tiled = ifd.entries.has(Tag.TileWidth) || ifd.entries.has(Tag.TileOffsets);
  const rowsPerStrip = tiled ? undefined : await scalar(ctx, ifd, Tag.RowsPerStrip, 2 ** 32 - 1);
  const tileWidth = tiled ? dimension(await scalar(ctx, ifd, Tag.TileWidth)) : width;
  const tileHeight = dimension(tiled ? await scalar(ctx, ifd, Tag.TileLength) : Math.min(rowsPerStrip ?? 0, height));
  const columns = Math.ceil(width / tileWidth);
  const rows = Math.ceil(height / tileHeight);
  const planes = planarConfiguration === 2 ? samplesPerPixel : 1;
  const expected = columns * rows * planes;
  const offsets = array(ifd, tiled ? Tag.TileOffsets : Tag.StripOffsets, expected);
  const byteCounts = array(ifd, tiled ? Tag.TileByteCounts : Tag.StripByteCounts, expected);
  const tablesEntry = ifd.entries.get(Tag.JPEGTables);
  const image: TiffImage = {
    ifdOffset: ifd.offset,
    width,
    height,
    tiled,
    tileWidth,
    tileHeight,
    columns,
    rows,
    compression: await scalar(ctx, ifd, Tag.Compression, 1),
    samplesPerPixel,
    bitsPerSample,
    planarConfiguration,
    newSubfileType: await scalar(ctx, ifd, Tag.NewSubfileType, 0),
    orientation: await scalar(ctx, ifd, Tag.Orientation, 1),
    offsets,
    byteCounts,
    subImages: [],
  };
  if (rowsPerStrip !== undefined) image.rowsPerStrip = rowsPerStrip;
  if (ifd.entries.has(Tag.Photometric)) image.photometric = await scalar(ctx, ifd, Tag.Photometric);
  if (ifd.entries.has(Tag.Predictor)) image.predictor = await scalar(ctx, ifd, Tag.Predictor);
  const extra = ifd.entries.get(Tag.ExtraSamples);
  if (extra) image.extraSamples = await readUints(ctx, extra, MAX_SAMPLES);
  const sampleFormat = ifd.entries.get(Tag.SampleFormat);
  if (sampleFormat) image.sampleFormat = await readUints(ctx, sampleFormat, MAX_SAMPLES);
  const subsampling = ifd.entries.get(Tag.YCbCrSubsampling);
  if (subsampling) image.ycbcrSubsampling = await readUints(ctx, subsampling, 2);
  if (tablesEntry) image.jpegTables = await readBytes(ctx, tablesEntry, MAX_JPEG_TABLES);
  const icc = ifd.entries.get(Tag.InterColorProfile);
  if (icc && icc.valueSize === 1 && icc.count > 0) image.iccProfile = { offset: icc.valueOffset, length: icc.count };
  return image;
}
