import * as v from 'valibot';
import { DEC, INT, parseSegment, re } from './parse.ts';
import type { IiifVersion, SizeSpec } from './types.ts';

/** Regex captures → SizeSpec. `up` is the `^` prefix (3.0) or always true (2.1). */
type Build = (m: RegExpExecArray, up: boolean) => SizeSpec;

const FORMS: ReadonlyArray<[string, Build]> = [
  ['max', (_m, up) => ({ kind: 'max', upscale: up })],
  [`${INT},`, (m, up) => ({ kind: 'w', w: Number(m[1]), upscale: up })],
  [`,${INT}`, (m, up) => ({ kind: 'h', h: Number(m[1]), upscale: up })],
  [`pct:${DEC}`, (m, up) => ({ kind: 'pct', pct: Number(m[1]), upscale: up })],
  [`${INT},${INT}`, (m, up) => ({ kind: 'wh', w: Number(m[1]), h: Number(m[2]), upscale: up })],
  [`!${INT},${INT}`, (m, up) => ({ kind: 'confined', w: Number(m[1]), h: Number(m[2]), upscale: up })],
];

/** One valibot branch per form; `prefix` is the literal text before the form (`^` or nothing). */
const form = (prefix: string, body: string, build: Build, up: boolean) => {
  const pattern = re(`${prefix}${body}`);
  return v.pipe(
    v.string(),
    v.regex(pattern),
    v.transform((s) => build(pattern.exec(s) as RegExpExecArray, up)),
  );
};

const nonZero = (s: SizeSpec): boolean => {
  switch (s.kind) {
    case 'w':
      return s.w > 0;
    case 'h':
      return s.h > 0;
    case 'pct':
      return s.pct > 0;
    case 'wh':
    case 'confined':
      return s.w > 0 && s.h > 0;
    default:
      return true;
  }
};

const checks = [
  v.check(nonZero, 'sizes must be greater than zero'),
  // 3.0 §4.2: pct:n "MUST NOT be greater than 100" unless upscaling is asked for.
  v.check((s: SizeSpec) => s.kind !== 'pct' || s.upscale || s.pct <= 100, 'pct over 100 needs the ^ prefix'),
] as const;

const size3 = v.pipe(
  v.string(),
  v.check((s) => s !== 'full', '"full" is not a 3.0 size, use "max"'),
  v.union([
    ...FORMS.map(([body, build]) => form('\\^', body, build, true)),
    ...FORMS.map(([body, build]) => form('', body, build, false)),
  ]),
  ...checks,
);

// 2.1 has no `^`: upscaling is implicit (sizeAboveFull), except `max`, which 2.1 defines as the
// largest size available for the region, i.e. never larger than the region.
const size2 = v.pipe(
  v.union([
    v.pipe(v.literal('full'), v.transform((): SizeSpec => ({ kind: 'full' }))),
    ...FORMS.map(([body, build]) => form('', body, build, body !== 'max')),
  ]),
  ...checks,
);

export function parseSize(version: IiifVersion, raw: string): SizeSpec {
  return version === 3
    ? parseSegment(size3, raw, 'bad_size', 'size', 'max, w,, ,h, pct:n, w,h or !w,h, optionally prefixed with ^')
    : parseSegment(size2, raw, 'bad_size', 'size', 'full, max, w,, ,h, pct:n, w,h or !w,h');
}
