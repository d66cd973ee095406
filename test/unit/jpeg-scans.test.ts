/** 11.2: counting a JPEG's scans from its markers, whatever the chunking, without decoding. */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { countJpegScans, createScanCounter } from '../../src/image/jpeg-scans.ts';
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
