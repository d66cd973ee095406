import { open } from 'node:fs/promises';
import type { Metadata, Sharp } from 'sharp';
import { httpError } from '../errors.ts';
import { createScanCounter, countJpegScans } from '../image/jpeg-scans.ts';

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

/** Bytes libvips holds for a whole decoded image (or page). */
export const wholeDecodeBytes = (meta: Pick<Metadata, 'width' | 'height' | 'channels' | 'depth'>): number =>
  meta.width * meta.height * meta.channels * (BYTES_PER_SAMPLE[meta.depth] ?? 8);

export function assertDecodeBytes(bytes: number, budget: DecodeBudget): void {
  if (bytes > budget.maxDecodeBytes) {
    throw httpError(
      400,
      'over_limit',
      `the source image must be decoded whole and needs ${bytes} bytes (limit IIIF_MAX_DECODE_BYTES ${budget.maxDecodeBytes})`,
    );
  }
}

/**
 * Refuses, from the header alone, an untiled image whose decode would exceed the budget
 * (WebP, PNG including Adam7, GIF, JPEG, AVIF/HEIF are decoded whole), and a progressive
 * JPEG with more scans than allowed. `data` is the bytes or a local file path.
 */
export async function checkWholeDecode(image: Sharp, data: Uint8Array | string, budget: DecodeBudget): Promise<void> {
  const meta = await image.metadata();
  assertDecodeBytes(wholeDecodeBytes(meta), budget);
  if (meta.format === 'jpeg' && meta.isProgressive) {
    const scans = typeof data === 'string' ? await countFileScans(data, budget.maxJpegScans) : countJpegScans(data, budget.maxJpegScans);
    if (scans > budget.maxJpegScans) {
      throw httpError(
        400,
        'over_limit',
        `the source JPEG has more than ${budget.maxJpegScans} progressive scans (limit IIIF_MAX_JPEG_SCANS ${budget.maxJpegScans})`,
      );
    }
  }
}

/** Counts a file's scans in 64 KiB reads, stopping past the cap. */
async function countFileScans(path: string, cap: number): Promise<number> {
  const file = await open(path, 'r');
  try {
    const counter = createScanCounter();
    const buffer = new Uint8Array(64 * 1024);
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0 || counter.push(buffer.subarray(0, bytesRead)) > cap) return counter.scans;
    }
  } finally {
    await file.close();
  }
}
