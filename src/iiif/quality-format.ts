import * as v from 'valibot';
import { httpError } from '../errors.ts';
import { FORMATS, QUALITIES } from './constants.ts';
import { echo, parseSegment } from './parse.ts';
import type { Format, Quality } from './types.ts';

const quality = v.picklist(QUALITIES);
const format = v.picklist(FORMATS);

/** Same qualities in 2.1 and 3.0. */
export function parseQuality(raw: string): Quality {
  return parseSegment(quality, raw, 'bad_quality', 'quality', QUALITIES.join(', '));
}

/** Every format IIIF defines (3.0 §4.5) is rendered. */
export function parseFormat(raw: string): Format {
  return parseSegment(format, raw, 'bad_format', 'format', FORMATS.join(', '));
}

/** Split the last path segment `{quality}.{format}` on its last dot. */
export function splitQualityFormat(segment: string): { quality: string; format: string } {
  const dot = segment.lastIndexOf('.');
  if (dot < 0) {
    throw httpError(400, 'bad_format', `Invalid quality.format "${echo(segment)}": expected {quality}.{format}.`);
  }
  return { quality: segment.slice(0, dot), format: segment.slice(dot + 1) };
}
