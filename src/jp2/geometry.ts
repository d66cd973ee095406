import type { Dimensions } from '../iiif/types.ts';
import type { Siz } from './codestream.ts';
import type { Jp2Structure } from './structure.ts';

/** Largest codestream tile advertised as the IIIF tile; bigger ones cost too much per viewer tile. */
const MAX_NATIVE_TILE = 2048;

/** Size of the image at reduction r: ceil(x1 / 2^r) - ceil(x0 / 2^r) (ISO 15444-1 B.5). */
export function reducedSize(siz: Siz, r: number): Dimensions {
  const f = 2 ** r;
  return {
    width: Math.ceil(siz.x1 / f) - Math.ceil(siz.x0 / f),
    height: Math.ceil(siz.y1 / f) - Math.ceil(siz.y0 / f),
  };
}

export interface Jp2Geometry extends Dimensions {
  levels: Dimensions[];
  tile?: Dimensions;
  reducedGrid: { x0: number; y0: number };
}

/**
 * Whether a decode at reduction r puts subsampled components (4:2:0 chroma) in place. Our wasm
 * glue picks a level pixel's component sample from the decoded area's full-resolution origin,
 * which is the level's own only when the level's first column and row (ceil(x0 / 2^r),
 * ceil(y0 / 2^r)) and the areas the renderer widens to whole samples of the coarsest component
 * fall on every component's sample grid. Else the chroma comes from a level pixel off (4:2:0 at
 * 3,5: MAD 13 to 56 on Cb and Cr); the level is then not offered, and the image is decoded at
 * full resolution and resized.
 */
function componentsAligned(siz: Siz, r: number): boolean {
  if (r === 0) return true;
  const f = 2 ** r;
  const mx = Math.max(...siz.components.map((c) => c.dx));
  const my = Math.max(...siz.components.map((c) => c.dy));
  const [ox, oy] = [Math.ceil(siz.x0 / f), Math.ceil(siz.y0 / f)];
  return siz.components.every((c) => mx % c.dx === 0 && my % c.dy === 0 && ox % c.dx === 0 && oy % c.dy === 0);
}

/**
 * Full size, one level per reduction and the codestream's tile size. Levels stop where
 * subsampled components would be misplaced (componentsAligned); info.json's scale factor of
 * level r is 2^r (`reducedGrid`), however its size rounds.
 */
export function jp2Geometry(s: Jp2Structure): Jp2Geometry {
  const full = reducedSize(s.siz, 0);
  const levels = [full];
  // A palette image's reductions average palette indices, which map to unrelated colours:
  // it is decoded at full resolution and resized.
  const reductions = s.codestream.colour?.palette ? 0 : s.levels;
  for (let r = 1; r <= reductions; r++) {
    const level = reducedSize(s.siz, r);
    if (level.width < 1 || level.height < 1 || !componentsAligned(s.siz, r)) break;
    levels.push(level);
  }
  const { siz } = s;
  const aligned = siz.tileX0 === siz.x0 && siz.tileY0 === siz.y0;
  const tiled = s.columns * s.rows > 1 && siz.tileWidth <= MAX_NATIVE_TILE && siz.tileHeight <= MAX_NATIVE_TILE;
  return {
    ...full,
    levels,
    reducedGrid: { x0: siz.x0, y0: siz.y0 },
    ...(aligned && tiled ? { tile: { width: siz.tileWidth, height: siz.tileHeight } } : {}),
  };
}

/**
 * Channels of OpenJPEG's output as our glue interleaves it: a palette's mapped channels (else
 * the components), CMYK as RGB, at most four.
 */
export function decodedChannels(s: Jp2Structure): 1 | 2 | 3 | 4 {
  const colour = s.codestream.colour;
  const n = colour?.palette ? (colour.mappedChannels ?? 1) : s.siz.components.length;
  if (colour?.enumerated === CMYK && n >= 4) return 3;
  return Math.min(4, Math.max(1, n)) as 1 | 2 | 3 | 4;
}

/** The colr box's enumerated CMYK colour space (ISO 15444-2 M.11.7.3), which OpenJPEG turns into RGB. */
const CMYK = 12;
