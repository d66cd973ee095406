import * as v from 'valibot';
import { DEC, parseSegment, re } from './parse.ts';
import type { RotationSpec } from './types.ts';

const rotation = v.pipe(
  v.string(),
  v.regex(re(`(!?)${DEC}`)),
  v.transform((s): RotationSpec => {
    const mirror = s.startsWith('!');
    return { mirror, degrees: Number(mirror ? s.slice(1) : s) };
  }),
  v.check((r) => r.degrees <= 360, 'degrees must be between 0 and 360'),
);

/** Same syntax in 2.1 and 3.0: `n` or `!n`, 0 <= n <= 360, plain decimal. */
export function parseRotation(raw: string): RotationSpec {
  return parseSegment(rotation, raw, 'bad_rotation', 'rotation', 'a number from 0 to 360, optionally prefixed with !');
}
