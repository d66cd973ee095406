import { describe, expect, it } from 'vitest';
import { planImage, resolveRegion, resolveSize, rotatedSize } from '../../src/iiif/plan.ts';
import { parseImageRequest } from '../../src/iiif/request.ts';
import type { IiifVersion, ImageGeometry, Limits, RenderPlan } from '../../src/iiif/types.ts';
import { PYRAMID_10000, expectHttpError } from './iiif-expect.ts';

/** Plan a request given as the path tail "{region}/{size}/{rotation}/{quality}.{format}". */
function plan(version: IiifVersion, tail: string, geometry: ImageGeometry, limits: Limits = {}): RenderPlan {
  const [region = '', size = '', rotation = '', qf = ''] = tail.split('/');
  const [quality = '', format = ''] = qf.split('.');
  return planImage(parseImageRequest(version, { region, size, rotation, quality, format }), geometry, limits);
}

// The spec's example image (3.0 §4.1/§4.2 figures) is 300×200.
const spec: ImageGeometry = { width: 300, height: 200 };
const size = (p: RenderPlan) => [p.width, p.height];

describe('region resolution', () => {
  it.each([
    ['full', 300, 200, { x: 0, y: 0, w: 300, h: 200 }],
    ['square', 300, 200, { x: 50, y: 0, w: 200, h: 200 }],
    ['square', 200, 300, { x: 0, y: 50, w: 200, h: 200 }],
    ['square', 301, 200, { x: 50, y: 0, w: 200, h: 200 }],
    ['square', 200, 200, { x: 0, y: 0, w: 200, h: 200 }],
    ['125,15,120,140', 300, 200, { x: 125, y: 15, w: 120, h: 140 }],
    // 3.0 §4.1: a region past the edges is cropped: 125,15,200,200 on 300×200 gives 175×185.
    ['125,15,200,200', 300, 200, { x: 125, y: 15, w: 175, h: 185 }],
    ['299,199,10,10', 300, 200, { x: 299, y: 199, w: 1, h: 1 }],
    // 300×0.416 = 124.8 → 125; 200×0.075 = 15; 40% = 120; 70% = 140.
    ['pct:41.6,7.5,40,70', 300, 200, { x: 125, y: 15, w: 120, h: 140 }],
    ['pct:0,0,100,100', 300, 200, { x: 0, y: 0, w: 300, h: 200 }],
    ['pct:50,50,100,100', 300, 200, { x: 150, y: 100, w: 150, h: 100 }],
    // 0.1% of 300 = 0.3 px: a positive percentage still covers one pixel.
    ['pct:0,0,0.1,0.1', 300, 200, { x: 0, y: 0, w: 1, h: 1 }],
    // 99.9% of 300 = 299.7 px: the region overlaps the last column, so it is that pixel, not "outside" (3.0 §4.1).
    ['pct:99.9,99.9,1,1', 300, 200, { x: 299, y: 199, w: 1, h: 1 }],
  ])('%s on %ix%i', (region, width, height, expected) => {
    expect(plan(3, `${region}/max/0/default.jpg`, { width, height }).region).toEqual(expected);
  });

  it.each(['300,0,10,10', '0,200,10,10', '1000,1000,5,5', 'pct:100,0,10,10', 'pct:0,100,10,10'])(
    'rejects %s (entirely outside 300x200) with 400 bad_region',
    (region) => {
      expectHttpError(() => plan(3, `${region}/max/0/default.jpg`, spec), 400, 'bad_region');
    },
  );

  it('is exported for direct use', () => {
    expect(resolveRegion({ kind: 'px', x: 10, y: 10, w: 1000, h: 5 }, spec)).toEqual({ x: 10, y: 10, w: 290, h: 5 });
  });
});

describe('size resolution 3.0 (spec examples on 300x200)', () => {
  it.each([
    ['max', [300, 200]],
    ['^max', [300, 200]],
    ['150,', [150, 100]],
    [',150', [225, 150]],
    ['pct:50', [150, 100]],
    ['pct:100', [300, 200]],
    ['pct:1', [3, 2]],
    ['225,100', [225, 100]],
    ['300,200', [300, 200]],
    ['!225,100', [150, 100]],
    ['!2000,2000', [300, 200]],
    ['^360,', [360, 240]],
    ['^,240', [360, 240]],
    ['^pct:120', [360, 240]],
    ['^360,360', [360, 360]],
    ['^!360,360', [360, 240]],
    ['^150,', [150, 100]],
  ])('%s', (s, expected) => {
    expect(size(plan(3, `full/${s}/0/default.jpg`, spec))).toEqual(expected);
  });

  it('!2000,2000 on 1000x1000 is 1000x1000 without ^ and 2000x2000 with it', () => {
    const g = { width: 1000, height: 1000 };
    expect(size(plan(3, 'full/!2000,2000/0/default.jpg', g))).toEqual([1000, 1000]);
    expect(size(plan(3, 'full/^!2000,2000/0/default.jpg', g))).toEqual([2000, 2000]);
  });

  it.each(['301,', ',201', '360,360', '301,200', '300,201'])('rejects %s (larger than the region, no ^) with 400', (s) => {
    const err = expectHttpError(() => plan(3, `full/${s}/0/default.jpg`, spec), 400, 'bad_size');
    expect(err.message).toContain('^');
  });

  it('measures against the region, not the image', () => {
    expect(size(plan(3, '0,0,100,50/100,/0/default.jpg', spec))).toEqual([100, 50]);
    expectHttpError(() => plan(3, '0,0,100,50/101,/0/default.jpg', spec), 400, 'bad_size');
    // 125,15,200,200 is clipped to 175×185, so 180, is an upscale.
    expectHttpError(() => plan(3, '125,15,200,200/180,/0/default.jpg', spec), 400, 'bad_size');
  });

  it('rounds the derived dimension and never below 1 px', () => {
    const strip = { width: 1000, height: 333 };
    // 333×150/1000 = 49.95 → 50.
    expect(size(plan(3, 'full/150,/0/default.jpg', strip))).toEqual([150, 50]);
    // 10×1/1000 = 0.01 → at least 1.
    expect(size(plan(3, 'full/1,/0/default.jpg', { width: 1000, height: 10 }))).toEqual([1, 1]);
  });

  it('rejects pct results below 1 px with 400', () => {
    // 0.1% of 300×200 = 0.3×0.2 px.
    expectHttpError(() => plan(3, 'full/pct:0.1/0/default.jpg', spec), 400, 'bad_size');
  });
});

describe('size resolution 2.1', () => {
  it.each([
    ['full', [300, 200]],
    ['max', [300, 200]],
    ['150,', [150, 100]],
    [',150', [225, 150]],
    ['pct:50', [150, 100]],
    ['225,100', [225, 100]],
    ['!225,100', [150, 100]],
    // sizeAboveFull: upscaling is implicit in 2.1.
    ['360,', [360, 240]],
    ['pct:120', [360, 240]],
    ['360,360', [360, 360]],
    ['!360,360', [360, 240]],
  ])('%s', (s, expected) => {
    expect(size(plan(2, `full/${s}/0/default.jpg`, spec))).toEqual(expected);
  });

  it('full is the region unscaled and is still subject to the limits', () => {
    expect(size(plan(2, '10,10,50,40/full/0/default.jpg', spec))).toEqual([50, 40]);
    expectHttpError(() => plan(2, 'full/full/0/default.jpg', spec, { maxWidth: 200 }), 400, 'over_limit');
  });
});

describe('limits', () => {
  it('scales max down to fit maxWidth, inferring maxHeight = maxWidth', () => {
    // 200/300 → 200×133.3.
    expect(size(plan(3, 'full/max/0/default.jpg', spec, { maxWidth: 200 }))).toEqual([200, 133]);
    // maxHeight 150 applies to a tall image too: 300×600 → 75×150.
    expect(size(plan(3, 'full/max/0/default.jpg', { width: 300, height: 600 }, { maxWidth: 150 }))).toEqual([75, 150]);
    expect(size(plan(2, 'full/max/0/default.jpg', spec, { maxWidth: 200 }))).toEqual([200, 133]);
  });

  it('applies a lone maxHeight to the width as well', () => {
    // min(100/300, 100/200) = 1/3 → 100×66.7.
    expect(size(plan(3, 'full/max/0/default.jpg', spec, { maxHeight: 100 }))).toEqual([100, 67]);
  });

  it('scales max to maxArea without rounding over it', () => {
    // sqrt(10000/60000) = 0.408: 122.5×81.6 rounds to 122×82 = 10004 > 10000, so floor: 122×81.
    const p = plan(3, 'full/max/0/default.jpg', spec, { maxArea: 10_000 });
    expect(size(p)).toEqual([122, 81]);
  });

  it('scales ^max up to the limits, keeping the aspect ratio', () => {
    // min(400/300, 400/200) = 4/3 → 400×266.7.
    expect(size(plan(3, 'full/^max/0/default.jpg', spec, { maxWidth: 400 }))).toEqual([400, 267]);
    // Without limits there is nothing to grow into.
    expect(size(plan(3, 'full/^max/0/default.jpg', spec))).toEqual([300, 200]);
  });

  it('rejects other sizes over the limits with 400 over_limit naming the limit', () => {
    expect(expectHttpError(() => plan(3, 'full/250,/0/default.jpg', spec, { maxWidth: 200 }), 400, 'over_limit').message).toContain('maxWidth 200');
    expect(expectHttpError(() => plan(3, 'full/,150/0/default.jpg', spec, { maxWidth: 300, maxHeight: 100 }), 400, 'over_limit').message).toContain(
      'maxHeight 100',
    );
    expect(expectHttpError(() => plan(3, 'full/300,200/0/default.jpg', spec, { maxArea: 50_000 }), 400, 'over_limit').message).toContain(
      'maxArea 50000',
    );
    expectHttpError(() => plan(3, 'full/^pct:200/0/default.jpg', spec, { maxWidth: 500 }), 400, 'over_limit');
    expectHttpError(() => plan(2, 'full/pct:200/0/default.jpg', spec, { maxWidth: 500 }), 400, 'over_limit');
  });

  it('shrinks !w,h to the limits instead of rejecting ("or server-imposed limits")', () => {
    expect(size(plan(3, 'full/!1000,1000/0/default.jpg', spec, { maxWidth: 200 }))).toEqual([200, 133]);
    expect(size(plan(3, 'full/^!1000,1000/0/default.jpg', spec, { maxWidth: 600 }))).toEqual([600, 400]);
  });

  it('resolveSize is exported for direct use', () => {
    expect(resolveSize({ kind: 'wh', w: 10, h: 20, upscale: false }, { x: 0, y: 0, w: 100, h: 100 }, {})).toEqual({ width: 10, height: 20 });
  });
});

describe('rotation and mirroring', () => {
  it.each([
    ['0', 300, 200, 0],
    ['90', 200, 300, 90],
    ['180', 300, 200, 180],
    ['270', 200, 300, 270],
    ['360', 300, 200, 0],
    // |300 cos 22.5°| + |200 sin 22.5°| = 277.2 + 76.5 = 353.7; 114.8 + 184.8 = 299.6.
    ['22.5', 354, 300, 22.5],
    ['!22.5', 354, 300, 22.5],
  ])('rotation %s of 300x200 gives a %ix%i box', (rot, w, h, normalised) => {
    const p = plan(3, `full/max/${rot}/default.png`, spec);
    expect([p.outputWidth, p.outputHeight, p.rotation]).toEqual([w, h, normalised]);
    expect([p.width, p.height]).toEqual([300, 200]);
    expect(p.mirror).toBe(rot.startsWith('!'));
  });

  it('computes bounding boxes', () => {
    // 100√2 = 141.4.
    expect(rotatedSize(100, 100, 45)).toEqual({ width: 141, height: 141 });
    // 200 cos30 + 100 sin30 = 173.2 + 50; 200 sin30 + 100 cos30 = 100 + 86.6.
    expect(rotatedSize(200, 100, 30)).toEqual({ width: 223, height: 187 });
    expect(rotatedSize(200, 100, 90)).toEqual({ width: 100, height: 200 });
  });

  it('carries quality and format', () => {
    const p = plan(3, 'full/max/!90/bitonal.png', spec);
    expect([p.quality, p.format, p.mirror]).toEqual(['bitonal', 'png', true]);
  });
});

describe('level selection (10000x7500 pyramid)', () => {
  const pyramid = PYRAMID_10000;
  const lv = (tail: string) => {
    const p = plan(3, tail, pyramid);
    return { level: p.level, levelRegion: p.levelRegion, size: [p.width, p.height] };
  };

  it('reads the full level for the full size', () => {
    expect(lv('full/max/0/default.jpg')).toEqual({ level: 0, levelRegion: { x: 0, y: 0, w: 10000, h: 7500 }, size: [10000, 7500] });
    // 5001 is one rounding pixel above level 1 (5000): still level 1; 5002 needs level 0.
    expect(lv('full/5001,/0/default.jpg').level).toBe(1);
    expect(lv('full/5002,/0/default.jpg').level).toBe(0);
  });

  it('picks the smallest level that still covers the output', () => {
    // 7500×625/10000 = 468.75 → 469: exactly the smallest level.
    expect(lv('full/625,/0/default.jpg')).toEqual({ level: 4, levelRegion: { x: 0, y: 0, w: 625, h: 469 }, size: [625, 469] });
    // 626 is the rounding pixel a viewer adds (ceil where the level was floored): same level.
    expect(lv('full/626,/0/default.jpg').level).toBe(4);
    // 627 wide needs more pixels than 625 can give: next level up.
    expect(lv('full/627,/0/default.jpg').level).toBe(3);
    // 7500×1250/10000 = 937.5 → 938 = level 3's height.
    expect(lv('full/1250,/0/default.jpg')).toEqual({ level: 3, levelRegion: { x: 0, y: 0, w: 1250, h: 938 }, size: [1250, 938] });
    expect(lv('full/1251,/0/default.jpg').level).toBe(3);
    expect(lv('full/1252,/0/default.jpg').level).toBe(2);
    expect(lv('full/5000,/0/default.jpg').level).toBe(1);
    expect(lv('full/2500,1875/0/default.jpg').level).toBe(2);
  });

  it('serves viewer tiles from their native level', () => {
    // Scale factor 4: 1024 px of full image per 256 px tile; level 2 is exactly 1/4.
    expect(lv('1024,0,1024,1024/256,256/0/default.jpg')).toEqual({ level: 2, levelRegion: { x: 256, y: 0, w: 256, h: 256 }, size: [256, 256] });
    // Scale factor 8: level 3 has y scale 938/7500, so 2048 → 256.14 (floor) and 4096 → 512.27 (ceil 513).
    expect(lv('2048,2048,2048,2048/256,256/0/default.jpg')).toEqual({
      level: 3,
      levelRegion: { x: 256, y: 256, w: 256, h: 257 },
      size: [256, 256],
    });
    // Bottom-right edge tile at scale factor 8: 1808×1356 px → ceil(/8) = 226×170.
    expect(lv('8192,6144,1808,1356/226,170/0/default.jpg')).toEqual({
      level: 3,
      levelRegion: { x: 1024, y: 768, w: 226, h: 170 },
      size: [226, 170],
    });
    // Scale factor 16 on the smallest level (625/10000 = 1/16).
    expect(lv('0,0,4096,4096/256,256/0/default.jpg')).toEqual({ level: 4, levelRegion: { x: 0, y: 0, w: 256, h: 257 }, size: [256, 256] });
  });

  it('maps pct regions into the level', () => {
    // Region 5000,3750,5000,3750 → 1250×937.5 → 938; level 2 (1/4): 1250,937.5 → x 1250, y 937, to 2500,1875.
    expect(lv('pct:50,50,50,50/1250,/0/default.jpg')).toEqual({
      level: 2,
      levelRegion: { x: 1250, y: 937, w: 1250, h: 938 },
      size: [1250, 938],
    });
  });

  it('uses the full level for upscales', () => {
    expect(lv('0,0,100,100/^200,200/0/default.jpg')).toEqual({ level: 0, levelRegion: { x: 0, y: 0, w: 100, h: 100 }, size: [200, 200] });
  });

  it('always uses level 0 for a flat image', () => {
    const flat = plan(3, '0,0,1000,1000/10,10/0/default.jpg', { width: 3000, height: 2000 });
    expect([flat.level, flat.levelRegion]).toEqual([0, { x: 0, y: 0, w: 1000, h: 1000 }]);
    const single = plan(3, 'full/10,/0/default.jpg', { width: 300, height: 200, levels: [{ width: 300, height: 200 }] });
    expect(single.level).toBe(0);
  });
});

describe('jp2 output cap and the canonical form', () => {
  it('one canonical form for the same pixels: max, !w,h and the explicit capped size all say max (3.0 §4.8)', () => {
    const image = { width: 6000, height: 6000 };
    const limits = { maxWidth: 10_000, maxArea: 25_000_000, formatMaxArea: { jp2: 1024 * 1024 } };
    const forms = ['full/max/0/default.jp2', 'full/!5000,5000/0/default.jp2', 'full/1024,1024/0/default.jp2', 'full/1024,/0/default.jp2'];
    const plans = forms.map((tail) => plan(3, tail, image, limits));
    expect(plans.map((p) => [p.width, p.height])).toEqual(forms.map(() => [1024, 1024]));
    expect(new Set(plans.map((p) => p.canonical))).toEqual(new Set(['full/max/0/default.jp2']));
    // Other formats are not capped: 1024, is a size of its own there.
    expect(plan(3, 'full/1024,/0/default.jpg', image, limits).canonical).toBe('full/1024,1024/0/default.jpg');
  });
});
