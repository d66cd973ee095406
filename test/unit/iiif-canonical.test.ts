import { describe, expect, it } from 'vitest';
import { formatDecimal } from '../../src/iiif/canonical.ts';
import { planImage } from '../../src/iiif/plan.ts';
import { parseImageRequest } from '../../src/iiif/request.ts';
import type { IiifVersion, ImageGeometry, Limits } from '../../src/iiif/types.ts';

function canonical(version: IiifVersion, tail: string, geometry: ImageGeometry, limits: Limits = {}): string {
  const [region = '', size = '', rotation = '', qf = ''] = tail.split('/');
  const [quality = '', format = ''] = qf.split('.');
  return planImage(parseImageRequest(version, { region, size, rotation, quality, format }), geometry, limits).canonical;
}

const img: ImageGeometry = { width: 300, height: 200 };

describe('canonical 3.0 (§4.8)', () => {
  it.each([
    ['full/max/0/default.jpg', 'full/max/0/default.jpg'],
    // Region: full for the whole image, else pixels after clipping.
    ['0,0,300,200/max/0/default.jpg', 'full/max/0/default.jpg'],
    ['pct:0,0,100,100/max/0/default.jpg', 'full/max/0/default.jpg'],
    ['0,0,500,500/max/0/default.jpg', 'full/max/0/default.jpg'],
    ['square/max/0/default.jpg', '50,0,200,200/max/0/default.jpg'],
    ['pct:41.6,7.5,40,70/max/0/default.jpg', '125,15,120,140/max/0/default.jpg'],
    ['125,15,200,200/max/0/default.jpg', '125,15,175,185/max/0/default.jpg'],
    // Size: max when it is what max gives, else w,h.
    ['full/300,/0/default.jpg', 'full/max/0/default.jpg'],
    ['full/300,200/0/default.jpg', 'full/max/0/default.jpg'],
    ['full/pct:100/0/default.jpg', 'full/max/0/default.jpg'],
    ['full/!1000,1000/0/default.jpg', 'full/max/0/default.jpg'],
    ['full/^max/0/default.jpg', 'full/max/0/default.jpg'],
    ['full/150,/0/default.jpg', 'full/150,100/0/default.jpg'],
    ['full/,150/0/default.jpg', 'full/225,150/0/default.jpg'],
    ['full/pct:50/0/default.jpg', 'full/150,100/0/default.jpg'],
    ['full/!225,100/0/default.jpg', 'full/150,100/0/default.jpg'],
    ['full/225,100/0/default.jpg', 'full/225,100/0/default.jpg'],
    // Upscaled: ^w,h.
    ['full/^360,/0/default.jpg', 'full/^360,240/0/default.jpg'],
    ['full/^pct:120/0/default.jpg', 'full/^360,240/0/default.jpg'],
    ['full/^150,/0/default.jpg', 'full/150,100/0/default.jpg'],
    // Rotation: ! when mirrored, integer when integral, shortest decimal otherwise; 360 is 0.
    ['full/max/!0/default.jpg', 'full/max/!0/default.jpg'],
    ['full/max/90/default.jpg', 'full/max/90/default.jpg'],
    ['full/max/090/default.jpg', 'full/max/90/default.jpg'],
    ['full/max/90.0/default.jpg', 'full/max/90/default.jpg'],
    ['full/max/22.50/default.png', 'full/max/22.5/default.png'],
    ['full/max/.5/default.png', 'full/max/0.5/default.png'],
    ['full/max/!345.25/default.png', 'full/max/!345.25/default.png'],
    ['full/max/360/default.jpg', 'full/max/0/default.jpg'],
    // Quality as requested, format explicit.
    ['full/max/0/color.webp', 'full/max/0/color.webp'],
    ['full/max/0/gray.tif', 'full/max/0/gray.tif'],
  ])('%s → %s', (tail, expected) => {
    expect(canonical(3, tail, img)).toBe(expected);
  });

  it('square on a square image is full', () => {
    expect(canonical(3, 'square/max/0/default.jpg', { width: 200, height: 200 })).toBe('full/max/0/default.jpg');
  });

  it('respects the limits for max and ^max', () => {
    // maxWidth 200 → max is 200×133.
    expect(canonical(3, 'full/max/0/default.jpg', img, { maxWidth: 200 })).toBe('full/max/0/default.jpg');
    expect(canonical(3, 'full/200,/0/default.jpg', img, { maxWidth: 200 })).toBe('full/max/0/default.jpg');
    expect(canonical(3, 'full/199,/0/default.jpg', img, { maxWidth: 200 })).toBe('full/199,133/0/default.jpg');
    // maxWidth 400 → ^max is 400×267.
    expect(canonical(3, 'full/^max/0/default.jpg', img, { maxWidth: 400 })).toBe('full/^max/0/default.jpg');
    expect(canonical(3, 'full/^400,/0/default.jpg', img, { maxWidth: 400 })).toBe('full/^max/0/default.jpg');
    expect(canonical(3, 'full/^pct:120/0/default.jpg', img, { maxWidth: 400 })).toBe('full/^360,240/0/default.jpg');
  });
});

describe('canonical 2.1 (§4.7)', () => {
  it.each([
    ['full/full/0/default.jpg', 'full/full/0/default.jpg'],
    ['full/max/0/default.jpg', 'full/full/0/default.jpg'],
    ['full/300,/0/default.jpg', 'full/full/0/default.jpg'],
    ['full/150,/0/default.jpg', 'full/150,/0/default.jpg'],
    ['full/,100/0/default.jpg', 'full/150,/0/default.jpg'],
    ['full/pct:50/0/default.jpg', 'full/150,/0/default.jpg'],
    ['full/150,100/0/default.jpg', 'full/150,/0/default.jpg'],
    ['full/!225,100/0/default.jpg', 'full/150,/0/default.jpg'],
    ['full/225,100/0/default.jpg', 'full/225,100/0/default.jpg'],
    ['full/600,/0/default.jpg', 'full/600,/0/default.jpg'],
    ['square/full/0/default.jpg', '50,0,200,200/full/0/default.jpg'],
    ['10,10,50,40/full/!90/gray.png', '10,10,50,40/full/!90/gray.png'],
    ['full/full/22.50/default.jpg', 'full/full/22.5/default.jpg'],
  ])('%s → %s', (tail, expected) => {
    expect(canonical(2, tail, img)).toBe(expected);
  });

  it('square on a square image is full', () => {
    expect(canonical(2, 'square/full/0/default.jpg', { width: 200, height: 200 })).toBe('full/full/0/default.jpg');
  });

  it('max reduced by the limits is w,', () => {
    // 200×(200/300) = 133.3 → 133, and 200, gives back 133.
    expect(canonical(2, 'full/max/0/default.jpg', img, { maxWidth: 200 })).toBe('full/200,/0/default.jpg');
  });
});

describe('formatDecimal', () => {
  it.each([
    [0, '0'],
    [90, '90'],
    [22.5, '22.5'],
    [0.9, '0.9'],
    [359.99, '359.99'],
    [1e-7, '0.0000001'],
  ])('%d → %s', (n, s) => {
    expect(formatDecimal(n)).toBe(s);
  });
});
