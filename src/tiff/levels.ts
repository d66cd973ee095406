import { MAX_TILE_ICC_BYTES } from './jpeg-icc.ts';
import { Compression, Photometric, SubfileType } from './tags.ts';
import type { TiffImage, TiffLevel, TiffStructure } from './types.ts';

/** Rounding at each halving can put a level a pixel or two off the exact ratio. */
const ASPECT_TOLERANCE_PX = 2;

const sameSamples = (a: TiffImage, b: TiffImage): boolean =>
  a.samplesPerPixel === b.samplesPerPixel && a.bitsPerSample.join() === b.bitsPerSample.join();

/** A smaller image with the base's aspect ratio, pixel layout and tiling kind. */
function isReductionOf(base: TiffImage, img: TiffImage): boolean {
  const flags = img.newSubfileType;
  if (flags & SubfileType.Mask) return false;
  if (flags & SubfileType.Page && !(flags & SubfileType.ReducedImage)) return false;
  if (img.width >= base.width || img.height >= base.height) return false;
  if (img.tiled !== base.tiled || !sameSamples(base, img)) return false;
  const heightOff = Math.abs((base.height * img.width) / base.width - img.height);
  const widthOff = Math.abs((base.width * img.height) / base.height - img.width);
  return Math.min(heightOff, widthOff) <= ASPECT_TOLERANCE_PX;
}

/**
 * Resolution levels of the main image, largest first. Handles both pyramid
 * layouts libvips writes: reduced pages in the main IFD chain (default) and
 * SubIFDs of the first image (`subifd`). Thumbnails, masks, other pages and
 * repeated sizes are skipped.
 */
export function pyramidLevels(structure: TiffStructure): TiffLevel[] {
  const [base, ...rest] = structure.images;
  if (!base) return [];
  const candidates = [...base.subImages, ...rest].filter((img) => isReductionOf(base, img));
  candidates.sort((a, b) => b.width - a.width);
  const chosen = [base];
  for (const img of candidates) {
    const last = chosen[chosen.length - 1];
    if (last && img.width < last.width && img.height <= last.height) chosen.push(img);
  }
  return chosen.map((img, level) => ({
    ...img,
    // A reduced level without a profile of its own shows the image's colours: GDAL writes one to the main image only.
    ...(img.iccProfile || !base.iccProfile ? {} : { iccProfile: base.iccProfile }),
    level,
    littleEndian: structure.littleEndian,
    fileSize: structure.size,
  }));
}

/**
 * Whether a level's stored tiles are complete baseline-decodable JPEGs once
 * joined with JPEGTables: 8-bit chunky grey or YCbCr, or RGB (the splice then
 * adds an Adobe marker so decoders skip the YCbCr conversion), upright.
 */
export function isPassThroughJpeg(level: TiffImage): boolean {
  if (level.compression !== Compression.Jpeg || !level.tiled) return false;
  if (level.planarConfiguration !== 1 || level.orientation !== 1) return false;
  if ((level.iccProfile?.length ?? 0) > MAX_TILE_ICC_BYTES) return false;
  if (!level.bitsPerSample.every((b) => b === 8)) return false;
  if (level.samplesPerPixel === 1) return level.photometric === Photometric.MinIsBlack;
  if (level.samplesPerPixel === 3) return level.photometric === Photometric.YCbCr || level.photometric === Photometric.Rgb;
  return false;
}

/** Splice options for a pass-through level's tiles. */
export const spliceOptionsFor = (level: TiffImage): { rgb: boolean } => ({
  rgb: level.photometric === Photometric.Rgb,
});
