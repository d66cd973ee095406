import { open } from 'node:fs/promises';
import type { Metadata, Sharp } from 'sharp';
import { httpError } from '../errors.ts';
import { type Sampling, coefficientBytes, createScanCounter, readJpegScans } from '../image/jpeg-scans.ts';

/** What a render may cost before any pixel is decoded. */
export interface DecodeBudget {
  /** Largest whole-image decode (pixels × bands × bytes per sample): IIIF_MAX_DECODE_BYTES. */
  maxDecodeBytes: number;
  /** Most scans a progressive JPEG may have: IIIF_MAX_JPEG_SCANS. */
  maxJpegScans: number;
}

const BYTES_PER_SAMPLE: Record<string, number> = {
  uchar: 1,
  char: 1,
  ushort: 2,
  short: 2,
  uint: 4,
  int: 4,
  float: 4,
  complex: 8,
  double: 8,
  dpcomplex: 16,
};

/** A TIFF level read strip by strip: what one strip decodes to. */
export interface StripShape {
  width: number;
  rows: number;
  samples: number;
  bytesPerSample: number;
}

/**
 * Bytes the decoder must hold at once, from the header. Measured with libvips 8.18 on a
 * 12000×9000 RGB image: baseline JPEG, non-interlaced PNG and striped TIFF are decoded as a
 * stream (a 256² region or a thumbnail adds 20–50 MiB), so only a strip counts; a progressive
 * JPEG keeps every DCT coefficient (2 bytes a sample at each component's sampling, `sampling`
 * from its frame header: +350 MiB for 4:4:4), an interlaced PNG, WebP, GIF and HEIF/AVIF the whole image.
 */
export function decodeBytes(
  meta: Pick<Metadata, 'format' | 'width' | 'height' | 'channels' | 'depth' | 'isProgressive'>,
  strip?: StripShape,
  sampling?: Sampling[],
): number {
  const whole = meta.width * meta.height * meta.channels * (BYTES_PER_SAMPLE[meta.depth] ?? 8);
  switch (meta.format) {
    case 'jpeg':
      return meta.isProgressive ? coefficientBytes(meta.width, meta.height, meta.channels, sampling) : 0;
    case 'png':
      return meta.isProgressive ? whole : 0;
    case 'tiff':
      return strip ? strip.width * strip.rows * strip.samples * strip.bytesPerSample : whole;
    default:
      return whole;
  }
}

/** A tiled TIFF level: its tile grid and samples. */
export interface TileShape {
  tileWidth: number;
  tileHeight: number;
  samplesPerPixel: number;
  bitsPerSample: number[];
}

/**
 * What libvips holds to read a region of a tiled level: each covering tile decoded whole, a row
 * of them at once (measured: 840 MB for a row of twenty 5120×2560 RGB tiles of a 38 KB file).
 */
export function tiledDecodeBytes(level: TileShape, region: { x: number; w: number }): number {
  const columns = Math.floor((region.x + Math.max(1, region.w) - 1) / level.tileWidth) - Math.floor(region.x / level.tileWidth) + 1;
  const bytesPerSample = Math.ceil(Math.max(8, ...level.bitsPerSample) / 8);
  return level.tileWidth * level.tileHeight * level.samplesPerPixel * bytesPerSample * columns;
}

/** A remote object that would be held whole in memory (no disk copy), over IIIF_MAX_DECODE_BYTES. */
export const wholeReadRefusal = (size: number, maxDecodeBytes: number) =>
  httpError(400, 'over_limit', `the source object would be read whole (${size} bytes; limit IIIF_MAX_DECODE_BYTES ${maxDecodeBytes})`);

export function assertDecodeBytes(bytes: number, budget: DecodeBudget): void {
  if (bytes > budget.maxDecodeBytes) {
    throw httpError(
      400,
      'over_limit',
      `decoding the source image needs ${bytes} bytes at once (limit IIIF_MAX_DECODE_BYTES ${budget.maxDecodeBytes})`,
    );
  }
}

/**
 * Refuses, from the header alone, an untiled image whose decode would hold more than the
 * budget (see decodeBytes), and a progressive JPEG with more scans than allowed. `data` is
 * the bytes or a local file path. Returns the header's metadata.
 */
export async function checkWholeDecode(image: Sharp, data: Uint8Array | string, budget: DecodeBudget, strip?: StripShape): Promise<Metadata> {
  const meta = await image.metadata();
  if (meta.format !== 'jpeg' || !meta.isProgressive) assertDecodeBytes(decodeBytes(meta, strip), budget);
  else {
    const { scans, sampling } = typeof data === 'string' ? await countFileScans(data, budget.maxJpegScans) : readJpegScans(data, budget.maxJpegScans);
    // Only a frame libjpeg agrees with lowers the charge: as many components, and subsampled as libvips reports.
    const trusted = sampling?.length === meta.channels && meta.chromaSubsampling !== '4:4:4' ? sampling : undefined;
    assertDecodeBytes(decodeBytes(meta, strip, trusted), budget);
    if (scans > budget.maxJpegScans) {
      throw httpError(
        400,
        'over_limit',
        `the source JPEG has more than ${budget.maxJpegScans} progressive scans (limit IIIF_MAX_JPEG_SCANS ${budget.maxJpegScans})`,
      );
    }
  }
  return meta;
}

/** Counts a file's scans in 64 KiB reads, stopping past the cap; and its frame's sampling. */
async function countFileScans(path: string, cap: number): Promise<{ scans: number; sampling: Sampling[] | undefined }> {
  const file = await open(path, 'r');
  try {
    const counter = createScanCounter();
    const buffer = new Uint8Array(64 * 1024);
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0 || counter.push(buffer.subarray(0, bytesRead)) > cap) return { scans: counter.scans, sampling: counter.sampling };
    }
  } finally {
    await file.close();
  }
}
