import { imageSize } from 'image-size';
import { httpError } from '../errors.ts';
import type { ImageGeometry } from '../iiif/types.ts';
import type { ImageSource, SourceObject } from '../sources/source.ts';
import type { TiffLevel, TileTables } from '../tiff/index.ts';
import type { Jp2Structure } from '../jp2/index.ts';
import { probeJp2Geometry } from '../jp2/probe.ts';
import { type ReadAt, oriented, pngOrientation, webpOrientation } from './exif-orientation.ts';
import { probeTiffGeometry } from './tiff-geometry.ts';

/** Source formats the renderers can decode. */
export type SourceFormat = 'jpg' | 'png' | 'webp' | 'gif' | 'tiff' | 'avif' | 'heif' | 'jp2' | 'unknown';

/** Geometry plus what a renderer needs to read the right pyramid level. */
export interface SourceGeometry extends ImageGeometry {
  format: SourceFormat;
  /** EXIF orientation (1–8); width/height are already the displayed (oriented) size. */
  orientation?: number;
  /** Where each level lives in a multi-resolution TIFF: its page in the IFD chain, or its SubIFD. */
  levelAccess?: Array<{ page: number } | { subifd: number }>;
  /** Parsed TIFF levels (tile tables, JPEG tables), for reading stored tiles directly. */
  tiffLevels?: TiffLevel[];
  /**
   * Each level's tile offset tables once read, filled on demand: it lives in the geometry
   * cache, so it shares the geometry's key (identifier and ETag) and eviction.
   */
  tileTables?: Map<number, Promise<TileTables | undefined>>;
  /**
   * Set by the geometry cache when the levels' whole tile tables would take more than its share
   * for one entry: each tile's two entries are then read on their own (a crafted TIFF of millions
   * of tiles must not cost megabytes of reads per tile).
   */
  tilesOneByOne?: true;
  /** ICC profiles once read (at most 64 KiB each), by file offset, kept like the tile tables. */
  iccProfiles?: Map<number, Promise<Uint8Array | undefined>>;
  /** JPEG 2000 headers: where the codestream and its tile-parts are, for the JP2 renderer. */
  jp2?: Jp2Structure;
  /** A TIFF's extra samples that are no alpha, which every output leaves out (tiff-geometry.ts). */
  extraBands?: ExtraBands;
}

export interface ExtraBands {
  /** Extra samples stored after the colour ones. */
  count: number;
  /** The first of them is alpha (TIFF 6.0 puts alpha first) and stays. */
  alpha?: boolean;
}

const HEAD_BYTES = 64 * 1024;
const JPEG2000_NAME = /\.(jp2|j2k|j2c|jpc|jpx|jpf)$/i;
const MAX_PROBE_BYTES = 4 * 1024 * 1024;

const FORMAT_BY_TYPE: Record<string, SourceFormat> = {
  jpg: 'jpg',
  png: 'png',
  webp: 'webp',
  gif: 'gif',
  tiff: 'tiff',
  avif: 'avif',
  heif: 'heif',
};

/** Reads a source's dimensions from its header bytes, never its pixels. */
export async function probeFlatGeometry(
  head: Uint8Array,
  read: (length: number) => Promise<Uint8Array>,
  size: number,
  readAt?: ReadAt,
): Promise<SourceGeometry> {
  let bytes = head;
  for (;;) {
    try {
      const geometry = fromHeader(bytes);
      const turn = readAt && ORIENTATION_OF[geometry.format];
      return turn ? oriented(geometry, await turn(withHead(bytes, readAt), size)) : geometry;
    } catch (e) {
      // Metadata before the frame header (EXIF, ICC) can push it past the first read.
      if (bytes.length >= size || bytes.length >= MAX_PROBE_BYTES) throw e;
      const more = await read(Math.min(size, MAX_PROBE_BYTES, Math.max(bytes.length * 4, HEAD_BYTES)));
      // A file shorter than its stat said (changed underneath us) must not loop.
      if (more.length <= bytes.length) throw e;
      bytes = more;
    }
  }
}

function fromHeader(bytes: Uint8Array): SourceGeometry {
  let result;
  try {
    result = imageSize(bytes);
  } catch {
    throw httpError(422, 'unsupported_source', 'the source image is corrupt or in an unknown format');
  }
  const format = FORMAT_BY_TYPE[result.type ?? ''];
  // A JPEG 2000 file we can read is taken before this (src/jp2/probe.ts); what image-size still
  // calls one has a signature box our check refused: damaged, not an unsupported type.
  if (result.type === 'jp2' || result.type === 'j2c') {
    throw httpError(422, 'unsupported_source', 'the source image has a damaged JPEG 2000 signature');
  }
  if (!format) {
    throw httpError(501, 'unsupported_source', `source images of type ${result.type ?? 'unknown'} are not supported`);
  }
  if (!(result.width > 0 && result.height > 0)) {
    throw httpError(422, 'unsupported_source', 'the source image declares no size');
  }
  return oriented({ width: result.width, height: result.height, format }, result.orientation ?? 1);
}

/** Formats whose orientation image-size does not report (it does for JPEG). */
const ORIENTATION_OF: Partial<Record<SourceFormat, (readAt: ReadAt, size: number) => Promise<number>>> = {
  png: pngOrientation,
  webp: webpOrientation,
};

/** Range reads answered from the bytes already held where they reach. */
const withHead = (head: Uint8Array, readAt: ReadAt): ReadAt => (offset, length) =>
  offset + length <= head.length ? Promise.resolve(head.subarray(offset, offset + length)) : readAt(offset, length);

/** Store-recorded geometry of a flat image; pyramids are always read from the file, for exact level sizes. */
function fromHints(hints: SourceObject['hints']): SourceGeometry | undefined {
  if (!hints?.width || !hints.height || (hints.levels && hints.levels.length > 1)) return undefined;
  return { width: hints.width, height: hints.height, ...(hints.tile ? { tile: hints.tile } : {}), format: 'unknown' };
}

export async function probeGeometry(
  source: ImageSource,
  identifier: string,
  object: SourceObject,
  signal?: AbortSignal,
): Promise<SourceGeometry> {
  // A JPEG 2000 file's levels and tiles are in its header, which store metadata lacks.
  const hinted = JPEG2000_NAME.test(identifier) ? undefined : fromHints(object.hints);
  if (hinted) return hinted;
  const head = await source.read(identifier, { offset: 0, length: Math.min(HEAD_BYTES, object.size) }, signal);
  const tiff = await probeTiffGeometry(
    head,
    (offset, length) => source.read(identifier, { offset, length }, signal),
    object.size,
  );
  if (tiff) return tiff;
  const jp2 = await probeJp2Geometry(head, (offset, length) => source.read(identifier, { offset, length }, signal), object.size);
  if (jp2) return jp2;
  return probeFlatGeometry(
    head,
    (length) => source.read(identifier, { offset: 0, length }, signal),
    object.size,
    (offset, length) => source.read(identifier, { offset, length: Math.max(0, Math.min(length, object.size - offset)) }, signal),
  );
}
