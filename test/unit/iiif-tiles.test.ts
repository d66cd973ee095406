import { describe, expect, it } from 'vitest';
import { planImage } from '../../src/iiif/plan.ts';
import { parseImageRequest } from '../../src/iiif/request.ts';
import { deriveSizes, deriveTiles, type TileInfo } from '../../src/iiif/tiles.ts';
import type { IiifVersion, ImageGeometry, Limits, RenderPlan } from '../../src/iiif/types.ts';
import { PYRAMID_10000 } from './iiif-expect.ts';

function plan(version: IiifVersion, region: string, size: string, geometry: ImageGeometry, limits: Limits = {}): RenderPlan {
  return planImage(parseImageRequest(version, { region, size, rotation: '0', quality: 'default', format: 'jpg' }), geometry, limits);
}

/** Every tile request a viewer makes (3.0 implementation notes §3), with the sizes it expects. */
function* tileRequests(g: ImageGeometry, t: TileInfo) {
  for (const s of t.scaleFactors) {
    for (let y = 0; y < g.height; y += t.height * s) {
      for (let x = 0; x < g.width; x += t.width * s) {
        const w = Math.min(t.width * s, g.width - x);
        const h = Math.min(t.height * s, g.height - y);
        yield { s, region: `${x},${y},${w},${h}`, width: Math.ceil(w / s), height: Math.ceil(h / s) };
      }
    }
  }
}

const flat: ImageGeometry = { width: 3000, height: 2000 };
const pyramid = PYRAMID_10000;

describe('deriveTiles', () => {
  it('cuts a flat image into default tiles until one tile holds it', () => {
    // 3000/8 = 375 ≤ 512 and 2000/8 = 250: factor 8 is the first single-tile one.
    expect(deriveTiles(flat, 512)).toEqual([{ width: 512, height: 512, scaleFactors: [1, 2, 4, 8] }]);
    expect(deriveTiles({ width: 512, height: 300 }, 512)).toEqual([{ width: 512, height: 512, scaleFactors: [1] }]);
    expect(deriveTiles({ width: 513, height: 1 }, 512)).toEqual([{ width: 512, height: 512, scaleFactors: [1, 2] }]);
  });

  it('uses the native tile size of a tiled flat image', () => {
    // 3000/16 = 187.5 ≤ 256: [1..16].
    expect(deriveTiles({ ...flat, tile: { width: 256, height: 128 } }, 512)).toEqual([
      { width: 256, height: 128, scaleFactors: [1, 2, 4, 8, 16] },
    ]);
  });

  it('halves a stored tile the output limits would refuse, so every advertised tile can be served (3.0 §5.6)', () => {
    const jp2Like = { ...flat, tile: { width: 1024, height: 1024 } };
    expect(deriveTiles(jp2Like, 512, { maxWidth: 600 })[0]).toMatchObject({ width: 512, height: 512 });
    expect(deriveTiles(jp2Like, 512, { maxWidth: 5000, maxArea: 100_000 })[0]).toMatchObject({ width: 256, height: 256 });
    expect(deriveTiles(jp2Like, 512, { maxWidth: 5000 })[0]).toMatchObject({ width: 1024, height: 1024 });
  });

  it('reports the real tiles and level factors of a pyramid', () => {
    expect(deriveTiles(pyramid, 512)).toEqual([{ width: 256, height: 256, scaleFactors: [1, 2, 4, 8, 16] }]);
  });

  it('reads each level factor along the longer side, where rounding moves it least', () => {
    // Levels written by halving with rounding down: 2000×10000 at 1/64 is 31×156, and 2000/31 is
    // 64.5 (65), 10000/156 is 64.1; a tall thin 201×5001 at 1/16 and 1/32 is 12×312 and 6×156.
    const halved = (width: number, height: number, n: number) => ({
      width,
      height,
      tile: { width: 256, height: 256 },
      levels: Array.from({ length: n }, (_, i) => ({ width: Math.floor(width / 2 ** i), height: Math.floor(height / 2 ** i) })),
    });
    expect(deriveTiles(halved(2000, 10000, 7), 512)[0]?.scaleFactors).toEqual([1, 2, 4, 8, 16, 32, 64]);
    expect(deriveTiles(halved(10000, 2000, 7), 512)[0]?.scaleFactors).toEqual([1, 2, 4, 8, 16, 32, 64]);
    expect(deriveTiles(halved(201, 5001, 6), 512)[0]?.scaleFactors).toEqual([1, 2, 4, 8, 16, 32]);
  });

  it('does not assume powers of two', () => {
    const g = {
      width: 9000,
      height: 6000,
      tile: { width: 512, height: 512 },
      levels: [
        { width: 9000, height: 6000 },
        { width: 3000, height: 2000 },
        { width: 1000, height: 667 },
      ],
    };
    expect(deriveTiles(g, 256)).toEqual([{ width: 512, height: 512, scaleFactors: [1, 3, 9] }]);
  });

  it('every tile of a flat 3000x2000 image at every factor is a valid request in both versions', () => {
    const [t] = deriveTiles(flat, 512);
    let count = 0;
    for (const r of tileRequests(flat, t!)) {
      for (const version of [3, 2] as const) {
        const p = plan(version, r.region, `${r.width},${r.height}`, flat, { maxWidth: 4000, maxArea: 16_000_000 });
        expect([p.width, p.height]).toEqual([r.width, r.height]);
        // Edge tiles may also be asked for as w, or ,h.
        expect(plan(version, r.region, `${r.width},`, flat).width).toBe(r.width);
        expect(plan(version, r.region, `,${r.height}`, flat).height).toBe(r.height);
      }
      count++;
    }
    // 6×4 + 3×2 + 2×1 + 1×1 tiles.
    expect(count).toBe(33);
  });

  it('every pyramid tile is valid and read from the level of its scale factor', () => {
    const [t] = deriveTiles(pyramid, 512);
    const levelOf = new Map([[1, 0], [2, 1], [4, 2], [8, 3], [16, 4]]);
    for (const r of tileRequests(pyramid, t!)) {
      const p = plan(3, r.region, `${r.width},${r.height}`, pyramid);
      expect([p.width, p.height]).toEqual([r.width, r.height]);
      expect(p.level).toBe(levelOf.get(r.s));
      expect(p.levelRegion.w).toBeGreaterThanOrEqual(r.width);
      expect(p.levelRegion.h).toBeGreaterThanOrEqual(r.height);
    }
  });
});

describe('deriveSizes', () => {
  it('halves a flat image (rounding up) down to the first size that fits a tile', () => {
    expect(deriveSizes(flat, {})).toEqual([
      { width: 375, height: 250 },
      { width: 750, height: 500 },
      { width: 1500, height: 1000 },
      { width: 3000, height: 2000 },
    ]);
    expect(deriveSizes({ width: 3001, height: 2001 }, {}, 1024)).toEqual([
      { width: 751, height: 501 },
      { width: 1501, height: 1001 },
      { width: 3001, height: 2001 },
    ]);
  });

  it('lists a tall image ascending too, whose sizes all have the same width', () => {
    const tall = { width: 1, height: 5000, levels: [5000, 2500, 1250].map((height) => ({ width: 1, height })) };
    expect(deriveSizes(tall, {})).toEqual([
      { width: 1, height: 1250 },
      { width: 1, height: 2500 },
      { width: 1, height: 5000 },
    ]);
    expect(deriveSizes({ width: 1, height: 5000 }, {}).map((s) => s.height)).toEqual([313, 625, 1250, 2500, 5000]);
  });

  it('lists only sizes within the limits', () => {
    // maxWidth 2000 also caps the height (inferred maxHeight).
    expect(deriveSizes(flat, { maxWidth: 2000 }).at(-1)).toEqual({ width: 1500, height: 1000 });
    expect(deriveSizes(flat, { maxArea: 400_000 })).toEqual([
      { width: 375, height: 250 },
      { width: 750, height: 500 },
    ]);
  });

  it('lists the real levels of a pyramid, ascending', () => {
    expect(deriveSizes(pyramid, {})).toEqual([
      { width: 625, height: 469 },
      { width: 1250, height: 938 },
      { width: 2500, height: 1875 },
      { width: 5000, height: 3750 },
      { width: 10000, height: 7500 },
    ]);
    // 2500×1875 = 4.7 M fits, 5000×3750 = 18.75 M does not.
    expect(deriveSizes(pyramid, { maxArea: 10_000_000 }).map((s) => s.width)).toEqual([625, 1250, 2500]);
  });

  it.each([
    ['flat', flat, {}],
    ['flat with maxWidth', flat, { maxWidth: 2000 }],
    ['flat with maxArea', { width: 4321, height: 1234 }, { maxArea: 1_000_000 }],
    ['pyramid', pyramid, {}],
    ['pyramid with maxArea', pyramid, { maxArea: 10_000_000 }],
  ])('every size of %s is servable as full/w,h/0/default.jpg', (_name, g, limits) => {
    const sizes = deriveSizes(g, limits);
    expect(sizes.length).toBeGreaterThan(0);
    for (const s of sizes) {
      for (const version of [3, 2] as const) {
        const p = plan(version, 'full', `${s.width},${s.height}`, g, limits);
        expect([p.width, p.height]).toEqual([s.width, s.height]);
      }
    }
  });
});
