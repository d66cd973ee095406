import { oriented } from './exif-orientation.ts';
import type { ExtraBands, SourceGeometry } from './geometry.ts';
import { httpError } from '../errors.ts';
import { type RangeRead, isTiff, pyramidLevels, readTiffStructure, undecodableCompression } from '../tiff/index.ts';

/**
 * Geometry of a TIFF from its structure alone (a few range reads): the real
 * pyramid levels and tile size, plus where each level lives for the renderer
 * and the tile pass-through. Undefined for anything that is not a TIFF.
 */
export async function probeTiffGeometry(head: Uint8Array, read: RangeRead, size: number): Promise<SourceGeometry | undefined> {
  if (!isTiff(head)) return undefined;
  // The first block is usually the head we already have.
  const reader: RangeRead = (offset, length) =>
    offset + length <= head.length ? Promise.resolve(head.subarray(offset, offset + length)) : read(offset, length);
  const structure = await readTiffStructure(reader, size);
  const undecodable = undecodableCompression(structure.images);
  if (undecodable) throw httpError(422, 'unsupported_source', `TIFF images compressed with ${undecodable} cannot be decoded here`);
  // libvips reads separate sample planes from strips only: every render of such a tiled file fails.
  const first = structure.images[0];
  if (first?.tiled && first.planarConfiguration === 2 && first.samplesPerPixel > 1) {
    throw httpError(422, 'unsupported_source', 'tiled TIFFs with separate sample planes cannot be decoded here');
  }
  const layout = first && unrenderableLayout(first);
  if (layout) throw httpError(422, 'unsupported_source', layout);
  const levels = pyramidLevels(structure);
  const base = levels[0];
  if (!base) return undefined;
  const extra = extraBands(base);
  const bands = extra ? { extraBands: extra } : {};
  // Rotated TIFFs are rare: rendered whole-level by libvips, turned upright, with no stored tiles to offer.
  if (base.orientation !== 1) return oriented<SourceGeometry>({ width: base.width, height: base.height, format: 'tiff', ...bands }, base.orientation);
  const access = levels.map((level) => {
    const page = structure.images.findIndex((img) => img.ifdOffset === level.ifdOffset);
    if (page >= 0) return { page };
    return { subifd: base.subImages.findIndex((img) => img.ifdOffset === level.ifdOffset) };
  });
  return {
    width: base.width,
    height: base.height,
    format: 'tiff',
    levels: levels.map((l) => ({ width: l.width, height: l.height })),
    ...(base.tiled ? { tile: { width: base.tileWidth, height: base.tileHeight } } : {}),
    levelAccess: access,
    tiffLevels: levels,
    ...bands,
  };
}

/**
 * Extra samples to leave out of the output (TIFF 6.0: ExtraSamples 0 is unspecified data, 1 and 2
 * associated and unassociated alpha, and alpha comes first). libvips takes the band after the
 * colour ones as alpha whatever its kind, so an unspecified one (an infrared or mask channel) made
 * the image transparent, and it could not flatten more than one extra band for JPEG (a 422).
 * Undefined when libvips' own reading is right: no extra samples, or one that is alpha.
 */
export function extraBands(image: { photometric?: number; samplesPerPixel: number; extraSamples?: number[] }): ExtraBands | undefined {
  const colour = COLOUR_SAMPLES[image.photometric ?? 1] ?? image.samplesPerPixel;
  const count = Math.max(0, image.samplesPerPixel - colour);
  const kind = image.extraSamples?.[0] ?? 0;
  const alpha = kind === 1 || kind === 2;
  if (count === 0 || (count === 1 && alpha)) return undefined;
  return alpha ? { count, alpha } : { count };
}

/** Colour samples of each photometric interpretation libvips turns into sRGB (TIFF 6.0; 8 is CIELab). */
const COLOUR_SAMPLES: Record<number, number> = { 0: 1, 1: 1, 2: 3, 3: 1, 5: 4, 6: 3, 8: 3 };

/** sharp refuses images of more bands than this, in every output ("exceeds channel limit"). */
const MAX_SAMPLES = 5;

/**
 * Why libvips cannot render this image in any output, or undefined: other interpretations (ICCLab,
 * LogL, LogLuv, unknown ones) have no route to sRGB, fewer samples than the colour model needs
 * have none to read, and over five (multispectral scans) are past sharp's limit. Each was a 500 or
 * a 422 from the renderer after a 200 info.json. Up to five samples with extra ones render, in
 * every output (see extraBands).
 */
function unrenderableLayout(image: { photometric?: number; samplesPerPixel: number }): string | undefined {
  const photometric = image.photometric ?? 1;
  const colour = COLOUR_SAMPLES[photometric];
  if (colour === undefined) return `TIFF images with photometric interpretation ${photometric} cannot be rendered here`;
  if (image.samplesPerPixel < colour) {
    return `TIFF images with ${image.samplesPerPixel} samples per pixel for ${colour} colour samples cannot be rendered here`;
  }
  if (image.samplesPerPixel > MAX_SAMPLES) {
    return `TIFF images with ${image.samplesPerPixel} samples per pixel (more than ${MAX_SAMPLES}) cannot be rendered here`;
  }
  return undefined;
}
