import type { Format, IiifVersion, Quality } from './types.ts';

export const PROTOCOL = 'http://iiif.io/api/image';

export const CONTEXT: Record<IiifVersion, string> = {
  3: 'http://iiif.io/api/image/3/context.json',
  2: 'http://iiif.io/api/image/2/context.json',
};

/** 2 with a pixel renderer; 0 without one (Workers with no render origin): stored tiles only. */
export type ComplianceLevel = 0 | 2;

export const PROFILE_URI: Record<IiifVersion, Record<ComplianceLevel, string>> = {
  3: { 2: 'http://iiif.io/api/image/3/level2.json', 0: 'http://iiif.io/api/image/3/level0.json' },
  2: { 2: 'http://iiif.io/api/image/2/level2.json', 0: 'http://iiif.io/api/image/2/level0.json' },
};

/** info.json media types: `jsonld` when the client asks for JSON-LD (3.0: also the default). */
export const INFO_MEDIA_TYPES: Record<IiifVersion, { json: string; jsonld: string; default: string }> = {
  3: {
    json: 'application/json',
    jsonld: `application/ld+json;profile="${CONTEXT[3]}"`,
    default: `application/ld+json;profile="${CONTEXT[3]}"`,
  },
  // 2.1 §5.1: plain JSON unless JSON-LD is explicitly asked for; the validator expects the bare type.
  2: { json: 'application/json', jsonld: 'application/ld+json', default: 'application/json' },
};

/** 2.1 §5.1: Link header recommended with plain-JSON info.json responses. */
export const JSONLD_CONTEXT_LINK_2 = `<${CONTEXT[2]}>;rel="http://www.w3.org/ns/json-ld#context";type="application/ld+json"`;

export const FORMAT_MEDIA_TYPES: Record<Format, string> = {
  jpg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  tif: 'image/tiff',
  avif: 'image/avif',
  jp2: 'image/jp2',
  pdf: 'application/pdf',
};

export const FORMATS = Object.keys(FORMAT_MEDIA_TYPES) as Format[];

export const QUALITIES: readonly Quality[] = ['default', 'color', 'gray', 'bitonal'];

/** 3.0 `extraFormats`: everything we render beyond level 2's jpg and png. */
export const EXTRA_FORMATS_3: readonly Format[] = FORMATS.filter((f) => f !== 'jpg' && f !== 'png');

/** 3.0 `extraQualities`: "in addition to default" (§5.7). */
export const EXTRA_QUALITIES_3: readonly Quality[] = QUALITIES.filter((q) => q !== 'default');

/**
 * 3.0 `extraFeatures`: features we serve that the 3.0 compliance document does not require at
 * level 2 (level 2 already implies baseUriRedirect, cors, jsonldMediaType, regionByPct,
 * regionByPx, regionSquare, rotationBy90s, sizeByConfinedWh, sizeByH, sizeByPct, sizeByW, sizeByWh).
 */
export const EXTRA_FEATURES_3: readonly string[] = [
  'canonicalLinkHeader',
  'mirroring',
  'profileLinkHeader',
  'rotationArbitrary',
  'sizeUpscaling',
];

/** 2.1 profile `supports`: every feature we serve (2.1 names; upscaling is `sizeAboveFull`). */
export const SUPPORTS_2: readonly string[] = [
  'baseUriRedirect',
  'canonicalLinkHeader',
  'cors',
  'jsonldMediaType',
  'mirroring',
  'profileLinkHeader',
  'regionByPct',
  'regionByPx',
  'regionSquare',
  'rotationArbitrary',
  'rotationBy90s',
  'sizeAboveFull',
  'sizeByConfinedWh',
  'sizeByDistortedWh',
  'sizeByH',
  'sizeByPct',
  'sizeByW',
  'sizeByWh',
];

/** Tile edge for sources without native tiles. */
export const DEFAULT_TILE_SIZE = 512;

/** Longest decoded identifier we accept (3.0 §10: reject bad lengths early). */
export const MAX_IDENTIFIER_LENGTH = 1024;
