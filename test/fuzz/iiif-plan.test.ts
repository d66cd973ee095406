/**
 * Property-based checks of the planner and canonical forms: any valid request either plans
 * output inside the limits or is refused with a 400, and its canonical form is a fixed point
 * that plans the same pixels. `FUZZ_RUNS` and `FUZZ_SEED` scale and replay a run.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isHttpError } from '../../src/errors.ts';
import { effectiveLimits } from '../../src/iiif/limits.ts';
import { planImage } from '../../src/iiif/plan.ts';
import { splitQualityFormat } from '../../src/iiif/quality-format.ts';
import { parseImageRequest } from '../../src/iiif/request.ts';
import type { IiifVersion, ImageGeometry, Limits, RenderPlan } from '../../src/iiif/types.ts';

const RUNS = Number(process.env.FUZZ_RUNS) || 10_000;
const SEED = Number(process.env.FUZZ_SEED) || 20_240_605;
const params = (runs: number): fc.Parameters<unknown> => ({ numRuns: runs, seed: SEED });

const int = (max: number) => fc.integer({ min: 0, max });
const edgeInt = fc.oneof(int(5), int(5000), int(999_999_999));
const dec = fc.oneof(
  edgeInt.map(String),
  fc.tuple(int(400), fc.stringMatching(/^\d{1,6}$/)).map(([a, b]) => `${a}.${b}`),
  fc.constantFrom('0.5', '.5', '100', '0.00000000000000000001', '99.99999999999999999999', '360'),
);

const region = fc.oneof(
  fc.constantFrom('full', 'square'),
  fc.tuple(edgeInt, edgeInt, edgeInt, edgeInt).map((n) => n.join(',')),
  fc.tuple(dec, dec, dec, dec).map((n) => `pct:${n.join(',')}`),
);
const sizeBody = fc.oneof(
  fc.constant('max'),
  edgeInt.map((w) => `${w},`),
  edgeInt.map((h) => `,${h}`),
  dec.map((p) => `pct:${p}`),
  fc.tuple(edgeInt, edgeInt).map(([w, h]) => `${w},${h}`),
  fc.tuple(edgeInt, edgeInt).map(([w, h]) => `!${w},${h}`),
);
const size = (version: IiifVersion) =>
  version === 3
    ? fc.tuple(fc.boolean(), sizeBody).map(([up, s]) => (up ? `^${s}` : s))
    : fc.oneof(fc.constant('full'), sizeBody);
const rotation = fc.tuple(fc.boolean(), fc.oneof(dec, fc.constantFrom('0', '90', '180', '270', '45', '22.5'))).map(
  ([mirror, d]) => `${mirror ? '!' : ''}${d}`,
);
const qualityFormat = fc
  .tuple(fc.constantFrom('default', 'color', 'gray', 'bitonal'), fc.constantFrom('jpg', 'png', 'webp', 'gif', 'tif'))
  .map(([q, f]) => `${q}.${f}`);
const tail = (version: IiifVersion) =>
  fc.tuple(region, size(version), rotation, qualityFormat).map((segments) => segments.join('/'));

/** Flat images, and pyramids whose levels halve (rounding up) like a TIFF writer's. */
const geometry: fc.Arbitrary<ImageGeometry> = fc
  .tuple(fc.oneof(int(4).map((n) => n + 1), fc.integer({ min: 1, max: 120_000 })), fc.integer({ min: 1, max: 120_000 }), int(6))
  .map(([width, height, extra]) => {
    const levels = Array.from({ length: extra + 1 }, (_, i) => ({
      width: Math.max(1, Math.ceil(width / 2 ** i)),
      height: Math.max(1, Math.ceil(height / 2 ** i)),
    }));
    return extra ? { width, height, levels, tile: { width: 256, height: 256 } } : { width, height };
  });

/** The app's defaults, or any mix that still bounds upscaling (3.0 §5.7: maxWidth or maxArea). */
const limits: fc.Arbitrary<Limits> = fc.oneof(
  fc.constant({ maxWidth: 10_000, maxHeight: 10_000, maxArea: 25_000_000 }),
  fc
    .record(
      { maxWidth: fc.integer({ min: 1, max: 20_000 }), maxHeight: fc.integer({ min: 1, max: 20_000 }), maxArea: fc.integer({ min: 1, max: 50_000_000 }) },
      { requiredKeys: [] },
    )
    .filter((l) => l.maxWidth !== undefined || l.maxArea !== undefined),
);

function plan(version: IiifVersion, path: string, image: ImageGeometry, lim: Limits): RenderPlan {
  const [r = '', s = '', rot = '', qf = ''] = path.split('/');
  return planImage(parseImageRequest(version, { region: r, size: s, rotation: rot, ...splitQualityFormat(qf) }), image, lim);
}

/** The plan, or undefined when refused with a 4xx/501; anything else fails the property. */
function tryPlan(version: IiifVersion, path: string, image: ImageGeometry, lim: Limits): RenderPlan | undefined {
  try {
    return plan(version, path, image, lim);
  } catch (e) {
    if (!isHttpError(e)) throw e;
    expect([400, 501]).toContain(e.status);
    return undefined;
  }
}

const pixels = (p: RenderPlan) => ({
  region: p.region,
  level: p.level,
  levelRegion: p.levelRegion,
  size: [p.width, p.height, p.outputWidth, p.outputHeight],
  turn: [p.mirror, p.rotation, p.quality, p.format],
});

describe.each([3, 2] as const)('IIIF %i planner, property-based', (version) => {
  it('plans output of at least 1 px, inside the limits, the region inside the image', () => {
    fc.assert(
      fc.property(tail(version), geometry, limits, (path, image, lim) => {
        const p = tryPlan(version, path, image, lim);
        if (!p) return;
        const l = effectiveLimits(lim);
        expect(p.width).toBeGreaterThanOrEqual(1);
        expect(p.height).toBeGreaterThanOrEqual(1);
        expect(Number.isInteger(p.width) && Number.isInteger(p.height)).toBe(true);
        expect(p.width).toBeLessThanOrEqual(l.maxWidth ?? Infinity);
        expect(p.height).toBeLessThanOrEqual(l.maxHeight ?? Infinity);
        expect(p.width * p.height).toBeLessThanOrEqual(l.maxArea ?? Infinity);
        // Rotation enlarges the canvas to w·h + (w² + h²)·|sin 2θ|/2 (plus rounding): the memory ceiling's term.
        const { width: w0, height: h0 } = p;
        expect(p.outputWidth * p.outputHeight).toBeLessThanOrEqual(w0 * h0 + (w0 * w0 + h0 * h0) / 2 + 2 * (w0 + h0) + 1);
        const { x, y, w, h } = p.region;
        expect(x >= 0 && y >= 0 && w >= 1 && h >= 1 && x + w <= image.width && y + h <= image.height).toBe(true);
        const level = image.levels?.[p.level] ?? image;
        const lr = p.levelRegion;
        expect(lr.x >= 0 && lr.y >= 0 && lr.w >= 1 && lr.h >= 1).toBe(true);
        expect(lr.x + lr.w <= level.width && lr.y + lr.h <= level.height).toBe(true);
      }),
      params(RUNS),
    );
  });

  it('canonical → parse → canonical is a fixed point that plans the same pixels', () => {
    fc.assert(
      fc.property(tail(version), geometry, limits, (path, image, lim) => {
        const first = tryPlan(version, path, image, lim);
        if (!first) return;
        const again = plan(version, first.canonical, image, lim);
        expect(again.canonical).toBe(first.canonical);
        expect(pixels(again)).toEqual(pixels(first));
      }),
      params(RUNS),
    );
  });
});
