import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BAND_ROWS, uprightStrips } from '../../adapters/cli/bands.ts';

const W = 700;
const H = 600;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'iiif-edge-bands-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Lossless and asymmetric, so that any wrong turn, mirror or band offset changes pixels. */
function pattern(): Buffer {
  const data = Buffer.alloc(W * H * 3);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) data.set([x % 251, y % 241, (x * 7 + y * 13) % 256], (y * W + x) * 3);
  return data;
}

describe('turned images, band by band', () => {
  it.each([2, 3, 4, 5, 6, 7, 8])('orientation %i matches sharp turning the whole image', async (orientation) => {
    expect(Math.min(W, H)).toBeGreaterThan(BAND_ROWS);
    const file = join(dir, `o${orientation}.tif`);
    await sharp(pattern(), { raw: { width: W, height: H, channels: 3 } }).withMetadata({ orientation }).tiff().toFile(file);
    const out = join(dir, `o${orientation}-strips.tif`);
    const meta = { width: W, height: H, grey: false, orientation, hasAlpha: false };
    const upright = await uprightStrips(sharp, file, meta, out, 10_000_000);
    const expected = await sharp(file).rotate().raw().toBuffer({ resolveWithObject: true });
    const actual = await sharp(out).raw().toBuffer({ resolveWithObject: true });
    expect([upright.width, upright.height]).toEqual([expected.info.width, expected.info.height]);
    expect([actual.info.width, actual.info.height]).toEqual([expected.info.width, expected.info.height]);
    expect(actual.data.equals(expected.data)).toBe(true);
  });
});
