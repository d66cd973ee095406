import * as v from 'valibot';
import { DEC, INT, parseSegment, re } from './parse.ts';
import type { RegionSpec } from './types.ts';

const POSITIVE_MESSAGE = 'width and height must be greater than zero';

const keyword = v.pipe(
  v.picklist(['full', 'square']),
  v.transform((kind): RegionSpec => ({ kind })),
);

const px = v.pipe(
  v.string(),
  v.regex(re(`${INT},${INT},${INT},${INT}`)),
  v.transform((s) => {
    const [x = 0, y = 0, w = 0, h = 0] = s.split(',').map(Number);
    return { kind: 'px' as const, x, y, w, h };
  }),
  v.check((r) => r.w > 0 && r.h > 0, POSITIVE_MESSAGE),
);

const pct = v.pipe(
  v.string(),
  v.regex(re(`pct:${DEC},${DEC},${DEC},${DEC}`)),
  v.transform((s) => {
    const [x = 0, y = 0, w = 0, h = 0] = s.slice(4).split(',').map(Number);
    return { kind: 'pct' as const, x, y, w, h };
  }),
  v.check((r) => r.w > 0 && r.h > 0, POSITIVE_MESSAGE),
);

const region = v.union([keyword, px, pct]);

/** Region syntax is identical in 2.1 and 3.0 (`square` exists in both). */
export function parseRegion(raw: string): RegionSpec {
  return parseSegment(region, raw, 'bad_region', 'region', 'full, square, x,y,w,h or pct:x,y,w,h');
}
