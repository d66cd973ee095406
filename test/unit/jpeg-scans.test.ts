/** 11.2: counting a JPEG's scans from its markers, whatever the chunking, without decoding. */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { coefficientBytes, countJpegScans, createScanCounter, readJpegScans } from '../../src/image/jpeg-scans.ts';
import { progressiveJpegBomb } from '../helpers/bombs.ts';

const noise = () =>
  sharp({ create: { width: 320, height: 240, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 50 } } });

describe('11.2 JPEG scan counting', () => {
  it('counts 1 scan in a baseline JPEG and the scans of progressive ones, as their SOS markers say', async () => {
    expect(countJpegScans(await noise().jpeg().toBuffer())).toBe(1);
    // The bomb's scan script is known: DC and 63 AC coefficients, 14 successive-approximation scans each.
    expect(countJpegScans(progressiveJpegBomb(64))).toBe(896);
    expect(countJpegScans(progressiveJpegBomb(64, 37))).toBe(37);
    const progressive = await noise().jpeg({ progressive: true }).toBuffer();
    const scans = countJpegScans(progressive);
    expect(scans).toBeGreaterThan(1);
    expect(scans).toBeLessThan(20);
  });

  it('gives the same count fed one byte at a time (markers and 0xFF stuffing split across chunks)', async () => {
    const progressive = await noise().jpeg({ progressive: true, quality: 95 }).toBuffer();
    const counter = createScanCounter();
    for (let i = 0; i < progressive.length; i++) counter.push(progressive.subarray(i, i + 1));
    expect(counter.scans).toBe(countJpegScans(progressive));
  });

  it('stops reading past the cap (counts are checked every 64 KiB)', () => {
    const bomb = progressiveJpegBomb(4096);
    expect(bomb.length).toBeGreaterThan(64 * 1024);
    const capped = countJpegScans(bomb, 10);
    expect(capped).toBeGreaterThan(10);
    expect(capped).toBeLessThan(896);
  });
});

describe('progressive JPEG coefficients', () => {
  it('reads the frame sampling and counts each component at its own size', async () => {
    for (const [sub, expected] of [
      ['4:4:4', [{ h: 1, v: 1 }, { h: 1, v: 1 }, { h: 1, v: 1 }]],
      ['4:2:0', [{ h: 2, v: 2 }, { h: 1, v: 1 }, { h: 1, v: 1 }]],
    ] as const) {
      const jpeg = await noise().jpeg({ progressive: true, chromaSubsampling: sub }).toBuffer();
      const { sampling } = readJpegScans(jpeg);
      expect(sampling, sub).toEqual(expected);
    }
    expect(coefficientBytes(6000, 4000, 3, [{ h: 2, v: 2 }, { h: 1, v: 1 }, { h: 1, v: 1 }])).toBe(6000 * 4000 * 2 + 2 * 3000 * 2000 * 2);
    expect(coefficientBytes(6000, 4000, 3, undefined)).toBe(6000 * 4000 * 3 * 2);
    // Odd sizes round each subsampled plane up.
    expect(coefficientBytes(301, 201, 3, [{ h: 2, v: 2 }, { h: 1, v: 1 }, { h: 1, v: 1 }])).toBe(301 * 201 * 2 + 2 * 151 * 101 * 2);
  });
});

describe('junk between segments (FF 00), which libjpeg skips', () => {
  it('is not taken for a marker: a frame hidden in the APP1 it would skip into is not read, and scans are all counted', async () => {
    const real = await noise().jpeg({ progressive: true, chromaSubsampling: '4:4:4' }).toBuffer();
    // A fake SOF2 (two components, sampled 4×1 and 1×4) inside an APP1 that follows FF 00 00 04.
    const fakeSof = Buffer.from([0xff, 0xc2, 0x00, 0x0e, 0x08, 0x00, 0xf0, 0x01, 0x40, 0x02, 0x01, 0x41, 0x00, 0x02, 0x14, 0x00]);
    const app1 = Buffer.concat([Buffer.from([0xff, 0xe1, 0x00, 2 + fakeSof.length]), fakeSof]);
    const crafted = Buffer.concat([real.subarray(0, 2), Buffer.from([0xff, 0x00, 0x00, 0x04]), app1, real.subarray(2)]);
    expect((await sharp(crafted).metadata()).chromaSubsampling).toBe('4:4:4');
    const read = readJpegScans(crafted);
    expect(read.sampling).toEqual([{ h: 1, v: 1 }, { h: 1, v: 1 }, { h: 1, v: 1 }]);
    expect(read.scans).toBe(countJpegScans(real));
  });
});
