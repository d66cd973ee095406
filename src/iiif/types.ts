/** Parsed IIIF Image API request parameters and the geometry they are planned against. */

export type IiifVersion = 2 | 3;

export type RegionSpec =
  | { kind: 'full' }
  | { kind: 'square' }
  | { kind: 'px'; x: number; y: number; w: number; h: number }
  | { kind: 'pct'; x: number; y: number; w: number; h: number };

/** `upscale` is the 3.0 `^` prefix; in 2.1 upscaling is implicit and the parser sets it to true. */
export type SizeSpec =
  | { kind: 'max'; upscale: boolean }
  | { kind: 'full' }
  | { kind: 'w'; w: number; upscale: boolean }
  | { kind: 'h'; h: number; upscale: boolean }
  | { kind: 'pct'; pct: number; upscale: boolean }
  | { kind: 'wh'; w: number; h: number; upscale: boolean }
  | { kind: 'confined'; w: number; h: number; upscale: boolean };

export interface RotationSpec {
  mirror: boolean;
  /** Clockwise degrees, 0 <= degrees <= 360. */
  degrees: number;
}

export type Quality = 'default' | 'color' | 'gray' | 'bitonal';

/** Formats this server renders. */
export type Format = 'jpg' | 'png' | 'webp' | 'gif' | 'tif' | 'avif' | 'jp2' | 'pdf';

export interface ImageRequest {
  version: IiifVersion;
  region: RegionSpec;
  size: SizeSpec;
  rotation: RotationSpec;
  quality: Quality;
  format: Format;
}

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Dimensions {
  width: number;
  height: number;
}

/** What the planner and info.json need to know about a source image. */
export interface ImageGeometry extends Dimensions {
  /** Resolution levels, largest (the full image) first; absent or one entry for a flat image. */
  levels?: Dimensions[];
  /** Native tile size of the source, when it is tiled. */
  tile?: Dimensions;
  /**
   * Level i is the image reduced by 2^i on a canvas whose image starts at this origin, sizes
   * rounded up (JPEG 2000, ISO 15444-1 B.5): regions map onto that grid, not in proportion.
   */
  reducedGrid?: { x0: number; y0: number };
}

/** Server-wide output limits (advertised in info.json). */
export interface Limits {
  maxWidth?: number;
  maxHeight?: number;
  maxArea?: number;
  /**
   * Largest output of the formats whose encoders run past the render deadline (jp2, gif, avif:
   * IIIF_<FORMAT>_MAX_OUTPUT_PIXELS), the area `max` and `!w,h` shrink to for them; not advertised.
   */
  formatMaxArea?: Partial<Record<Format, number>>;
}

/** Exact pixel work for one request, derived from an ImageRequest and an ImageGeometry. */
export interface RenderPlan {
  /** Region in full-resolution pixels, already clipped to the image. */
  region: Rect;
  /** Index into geometry.levels of the smallest level that still covers the output (0 when flat). */
  level: number;
  /** The region expressed in that level's pixels (clipped to the level). */
  levelRegion: Rect;
  /** Scaled size of the region, before rotation. */
  width: number;
  height: number;
  mirror: boolean;
  /** Clockwise degrees normalised to [0, 360). */
  rotation: number;
  quality: Quality;
  format: Format;
  /** Size of the final image, after rotation (bounding box). */
  outputWidth: number;
  outputHeight: number;
  /** Canonical "{region}/{size}/{rotation}/{quality}.{format}" for this version. */
  canonical: string;
}

/** The four image parameters as they appear in the path (percent-decoded, otherwise raw). */
export interface ImageParams {
  region: string;
  size: string;
  rotation: string;
  quality: string;
  format: string;
}

/** What a path below `{prefix}/{version}/` asks for; `identifier` is decoded. */
export type IiifPath =
  | { kind: 'base'; identifier: string }
  | { kind: 'info'; identifier: string }
  | { kind: 'image'; identifier: string; params: ImageParams };
