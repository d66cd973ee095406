import { type CodestreamLocation, locateCodestream } from './boxes.ts';
import { Jp2Error } from './errors.ts';
import { type MainHeader, type TilePart, readMainHeader } from './codestream.ts';
import { type RangeRead, headerReader } from './reader.ts';

/** Everything the renderer needs from a JPEG 2000 file's headers, kept with its geometry. */
export interface Jp2Structure extends MainHeader {
  codestream: CodestreamLocation;
  /**
   * Tile-parts found by walking the SOT markers of a local file without TLM, filled on first
   * use: it lives in the geometry cache, so it shares the geometry's key and eviction.
   */
  walkedParts?: Promise<TilePart[]>;
}

/** Header bytes one parse may fetch: boxes, an ICC profile and TLM markers fit easily. */
const MAX_HEADER_BYTES = 4 * 1024 * 1024;

/** Parses the JP2 boxes (if any) and the codestream main header over bounded range reads. */
export async function readJp2Structure(read: RangeRead, size: number, head?: Uint8Array): Promise<Jp2Structure> {
  const reader = headerReader(read, size, MAX_HEADER_BYTES, head);
  const codestream = await locateCodestream(reader);
  const header = await readMainHeader(reader, codestream.offset, codestream.length);
  const declared = codestream.imageSize;
  const { siz } = header;
  // The decoder refuses such a file; so does info.json, rather than advertise tiles no request gets.
  if (declared && declared.width > 0 && declared.height > 0 && (declared.width !== siz.x1 - siz.x0 || declared.height !== siz.y1 - siz.y0)) {
    throw new Jp2Error('JP2 image header box and codestream disagree on the image size.');
  }
  // OpenJPEG's output is the components' own size, which is not the reference grid when all are subsampled.
  if (siz.components.every((c) => c.dx > 1) || siz.components.every((c) => c.dy > 1)) {
    throw new Jp2Error('JPEG 2000 images whose every component is subsampled are not supported.');
  }
  return { ...header, codestream };
}
