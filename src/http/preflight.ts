import type { Config } from '../config.ts';
import { httpError } from '../errors.ts';
import type { Dimensions } from '../iiif/types.ts';
import { objectKey } from '../sources/key-template.ts';

const LOCATION = 'x-preflight-location';
const DIMENSIONS = 'x-preflight-dimensions';
/** A header no viewer-request function needs more than this for; longer is refused unparsed. */
const MAX_HEADER_LENGTH = 8192;
const MAX_SIDE = 1_000_000;

/** Where to read the image and, when the header gave it, its size (no probe of the object). */
export interface PreflightTarget {
  identifier: string;
  dimensions?: Dimensions;
}

/**
 * serverless-iiif's `preflight=true`: a trusted CloudFront viewer-request function names the S3 object
 * (`x-preflight-location: s3://bucket/key`) and its size (`x-preflight-dimensions`, JSON). The headers are
 * believed only with IIIF_PREFLIGHT=true, which a deployment may set only where no client can send them
 * (docs/deploy-aws.md: the function strips client copies and the origin accepts CloudFront alone).
 * Otherwise they are ignored and logged. The location must be a key of the configured bucket that the
 * key template can produce, so the object is read (and cached) under the identifier that maps to it.
 */
export function preflightReader(config: Config) {
  return (request: Request, identifier: string, warn: (message: string) => void): PreflightTarget => {
    const location = request.headers.get(LOCATION);
    const dimensions = request.headers.get(DIMENSIONS);
    if (location === null && dimensions === null) return { identifier };
    if (!config.IIIF_PREFLIGHT) {
      warn('preflight headers ignored: IIIF_PREFLIGHT is off');
      return { identifier };
    }
    const refuse = (why: string): never => {
      warn(`preflight headers refused: ${why}`);
      throw httpError(400, 'bad_request', 'the preflight headers set for this request are not valid');
    };
    const target: PreflightTarget = { identifier: location === null ? identifier : identifierAt(location, config, refuse) };
    const size = dimensions === null ? undefined : parseDimensions(dimensions, refuse);
    if (size) target.dimensions = size;
    return target;
  };
}

/** The identifier whose object key (prefix + template) is the location's key, in the configured bucket. */
function identifierAt(location: string, config: Config, refuse: (why: string) => never): string {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(location.length <= MAX_HEADER_LENGTH ? location : '');
  if (!match) return refuse('x-preflight-location is not s3://bucket/key');
  const [, bucket, key = ''] = match;
  if (config.IIIF_SOURCE !== 's3' || bucket !== config.IIIF_S3_BUCKET) return refuse('x-preflight-location names another bucket');
  const template = { prefix: config.IIIF_S3_PREFIX, template: config.IIIF_S3_KEY_TEMPLATE };
  const parts = template.template.split('%s');
  const before = template.prefix + (parts[0] ?? '');
  const fixed = before.length + parts.slice(1).join('').length;
  const copies = parts.length - 1;
  const length = (key.length - fixed) / copies;
  const identifier = key.slice(before.length, before.length + length);
  if (!(Number.isInteger(length) && length > 0) || objectKey(identifier, template) !== key) {
    return refuse('x-preflight-location is outside the prefix and key template');
  }
  return identifier;
}

const side = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n > 0 && n <= MAX_SIDE;

/**
 * serverless-iiif's forms: `{"width":w,"height":h,…}` or a list of sizes, largest first. A pyramid (several
 * sizes, or `pages` > 1) is still probed: its level layout, which the header lacks, is what lets renders read
 * a small page and tiles pass through; the probe is a few ranged reads, cached per ETag.
 */
function parseDimensions(header: string, refuse: (why: string) => never): Dimensions | undefined {
  let value: unknown;
  try {
    value = header.length <= MAX_HEADER_LENGTH ? JSON.parse(header) : undefined;
  } catch {
    return refuse('x-preflight-dimensions is not JSON');
  }
  const first: unknown = Array.isArray(value) ? value[0] : value;
  if (typeof first !== 'object' || first === null) return refuse('x-preflight-dimensions has no width and height');
  const { width, height, pages } = first as Record<string, unknown>;
  if (!side(width) || !side(height)) return refuse('x-preflight-dimensions has no valid width and height');
  const levels = Array.isArray(value) ? value.length : typeof pages === 'number' ? pages : 1;
  return levels > 1 ? undefined : { width, height };
}
