import {
  type ComplianceLevel,
  CONTEXT,
  EXTRA_FEATURES_3,
  EXTRA_FORMATS_3,
  EXTRA_QUALITIES_3,
  FORMATS,
  PROFILE_URI,
  PROTOCOL,
  QUALITIES,
  SUPPORTS_2,
} from './constants.ts';
// A lone maxWidth or maxHeight is advertised (and enforced) for both axes: see limits.ts.
import { effectiveLimits } from './limits.ts';
import type { TileInfo } from './tiles.ts';
import type { Dimensions, Format, ImageGeometry, Limits } from './types.ts';

export interface InfoInput {
  /** Base URI of the image: full URL, identifier already encoded, no trailing slash. */
  id: string;
  geometry: ImageGeometry;
  limits: Limits;
  tiles: TileInfo[];
  sizes: Dimensions[];
  rights?: string | undefined;
  preferredFormats?: Format[] | undefined;
  /** 0: no renderer, `sizes` and `tiles` hold only what stored tiles answer (default 2). */
  level?: ComplianceLevel;
}

/** What a level-0 deployment's stored tiles are besides: in colour too (3.0 §6.3). */
const STORED_TILE_QUALITIES = ['color'] as const;

/** 3.0 image information (§5); `@context` first, as the spec asks. */
export function buildInfo3(o: InfoInput): Record<string, unknown> {
  return {
    '@context': CONTEXT[3],
    id: o.id,
    type: 'ImageService3',
    protocol: PROTOCOL,
    profile: o.level === 0 ? 'level0' : 'level2',
    width: o.geometry.width,
    height: o.geometry.height,
    ...effectiveLimits(o.limits),
    ...(o.sizes.length > 0 && { sizes: o.sizes }),
    ...(o.tiles.length > 0 && { tiles: o.tiles }),
    ...(o.level !== 0 && o.preferredFormats?.length && { preferredFormats: o.preferredFormats }),
    ...(o.rights && { rights: o.rights }),
    ...(o.level === 0
      ? { extraQualities: STORED_TILE_QUALITIES }
      : { extraQualities: EXTRA_QUALITIES_3, extraFormats: EXTRA_FORMATS_3, extraFeatures: EXTRA_FEATURES_3 }),
  };
}

/** 2.1 image information (§5); `rights` maps to 2.1's `license`, there is no preferredFormats. */
export function buildInfo2(o: InfoInput): Record<string, unknown> {
  return {
    '@context': CONTEXT[2],
    '@id': o.id,
    protocol: PROTOCOL,
    width: o.geometry.width,
    height: o.geometry.height,
    ...(o.sizes.length > 0 && { sizes: o.sizes }),
    ...(o.tiles.length > 0 && { tiles: o.tiles }),
    ...(o.rights && { license: o.rights }),
    profile: [
      PROFILE_URI[2][o.level ?? 2],
      o.level === 0
        ? { formats: ['jpg'], qualities: ['default', ...STORED_TILE_QUALITIES], ...effectiveLimits(o.limits) }
        : { formats: FORMATS, qualities: QUALITIES, supports: SUPPORTS_2, ...effectiveLimits(o.limits) },
    ],
  };
}
