import { Jp2Error } from './errors.ts';
import { type HeaderReader, u16, u32 } from './reader.ts';

/** The image and tile grid from SIZ (ISO 15444-1 A.5.1), on the reference grid. */
export interface Siz {
  /** Xsiz, Ysiz: the grid's far edge; the image is [x0, x1) × [y0, y1). */
  x1: number;
  y1: number;
  x0: number;
  y0: number;
  tileWidth: number;
  tileHeight: number;
  tileX0: number;
  tileY0: number;
  components: Array<{ depth: number; signed: boolean; dx: number; dy: number }>;
}

/** One tile-part, located from the TLM markers: where its SOT starts and its length. */
export interface TilePart {
  tile: number;
  offset: number;
  length: number;
}

export interface MainHeader {
  siz: Siz;
  /** Decomposition levels usable for every component: the smallest of COD and the COCs. */
  levels: number;
  columns: number;
  rows: number;
  /** Absolute offset of the first SOT marker: the main header is [codestream offset, this). */
  end: number;
  /** Tile-parts in codestream order, when TLM markers give all their lengths. */
  tileParts?: TilePart[];
  /** PPM moves packet headers into the main header, so tile-parts cannot be picked alone. */
  packedHeaders: boolean;
  /**
   * Packets in resolution-major order (RLCP or RPCL, no POC, every component with COD's levels)
   * without EPH markers: a tile's first packets are its lowest resolutions, and a tile cut to
   * its first tile-parts still decodes.
   */
  resolutionMajor: boolean;
  /**
   * Code-blocks OpenJPEG sets up per pixel of the reference grid, over all components and
   * resolutions (from COD, COC and their precinct sizes): 4 / 4096 for four components in
   * 64×64 blocks, 1/16 for one component in 4×4 blocks, which a 189-byte file can ask for.
   */
  codeBlocksPerPixel: number;
  /** The main header's COD and COCs, which a tile's own COD and COC override (A.6). */
  styles: CodingStyles;
}

export interface CodingStyles {
  cod: CodingStyle;
  /** By component index; a hole where the component has no COC. */
  coc: Array<CodingStyle | undefined>;
}

/** A COD or COC's decomposition levels, code-block size exponents and precinct exponents (A.6.1, A.6.2). */
export interface CodingStyle {
  levels: number;
  xcb: number;
  ycb: number;
  /** PPx, PPy per resolution, lowest first; absent: 2^15 (no partition). */
  precincts?: Array<[number, number]>;
}

const SOC = 0xff4f;
const SOT = 0xff90;
const SIZ = 0xff51;
const COD = 0xff52;
const COC = 0xff53;
const TLM = 0xff55;
const PPM = 0xff60;
const POC = 0xff5f;
/** COD's progression orders (A.6.1, table A.16) that loop over resolutions outermost. */
const RLCP = 1;
const RPCL = 2;
/**
 * Scod's EPH bit (A.6.1, table A.13): OpenJPEG 2.5.0 fails a tile cut to its first tile-parts
 * ("Not enough space for required EPH marker") when packet headers end in EPH; SOP (0x02) alone decodes.
 */
const EPH_MARKERS = 0x04;

/** Markers in a main header: a real one has under 20; each costs a 4-byte read at most. */
const MAX_MARKERS = 1024;
/** ISO 15444-1 A.5.1: at most 16384 components; more than 4 is no image we can render. */
const MAX_COMPONENTS = 4;
/** Isot is 16 bits, and 65535 is reserved. */
const MAX_TILES = 65535;
/** 0..32 decomposition levels (A.6.1). */
const MAX_LEVELS = 32;

/** Reads the main header markers from SOC up to the first SOT: geometry, levels and the TLM tile-part index. */
export async function readMainHeader(reader: HeaderReader, start: number, length: number): Promise<MainHeader> {
  const limit = start + length;
  if (length < 4 || u16(await reader.read(start, 2), 0) !== SOC) throw new Jp2Error('Not a JPEG 2000 codestream.');
  let pos = start + 2;
  let siz: Siz | undefined;
  let levels: number | undefined;
  let style: CodingStyle | undefined;
  const componentStyles: Array<CodingStyle | undefined> = [];
  let progression: number | undefined;
  let ephMarkers = false;
  let orderChanged = false;
  const cocLevels: number[] = [];
  const tlm: Array<{ index: number; segment: Uint8Array }> = [];
  let packedHeaders = false;
  for (let count = 0; ; count++) {
    if (count >= MAX_MARKERS) throw new Jp2Error('Too many markers in the JPEG 2000 main header.');
    if (limit - pos < 4) throw new Jp2Error('JPEG 2000 main header ends before its first tile.');
    const m = await reader.read(pos, 4);
    const marker = u16(m, 0);
    if (marker === SOT) {
      if (!siz || levels === undefined || !style) throw new Jp2Error('JPEG 2000 main header without SIZ or COD.');
      const { columns, rows } = grid(siz);
      const usable = Math.min(levels, ...cocLevels);
      const tileParts = tlm.length > 0 ? tilePartsFromTlm(tlm, pos, limit, columns * rows) : undefined;
      const resolutionMajor = (progression === RLCP || progression === RPCL) && !ephMarkers && !orderChanged && cocLevels.every((l) => l === levels);
      const styles = { cod: style, coc: componentStyles };
      const codeBlocksPerPixel = blocksPerPixel(siz, (c) => componentStyles[c] ?? styles.cod);
      return { siz, levels: usable, columns, rows, end: pos, packedHeaders, resolutionMajor, codeBlocksPerPixel, styles, ...(tileParts ? { tileParts } : {}) };
    }
    if (marker < 0xff30) throw new Jp2Error('Bad marker in the JPEG 2000 main header.');
    const segLength = u16(m, 2);
    if (segLength < 2 || pos + 2 + segLength > limit) throw new Jp2Error('Bad JPEG 2000 marker segment length.');
    if (count === 0 && marker !== SIZ) throw new Jp2Error('JPEG 2000 codestream without SIZ after SOC.');
    const body = () => reader.read(pos + 4, segLength - 2);
    if (marker === SIZ) {
      if (siz) throw new Jp2Error('JPEG 2000 main header with two SIZ markers.');
      siz = parseSiz(await body());
    } else if (marker === COD) {
      const cod = await body();
      levels = decompositionLevels(cod, 5);
      style = codingStyle(cod, 5, (cod[0] ?? 0) & 1);
      progression = cod[1];
      ephMarkers = ((cod[0] ?? 0) & EPH_MARKERS) !== 0;
    } else if (marker === COC && siz) {
      // Ccoc is one byte below 257 components (A.6.2); we allow at most 4.
      const coc = await body();
      cocLevels.push(decompositionLevels(coc, 2));
      const component = coc[0] ?? 0;
      if (component >= siz.components.length) throw new Jp2Error('JPEG 2000 COC marker for a component the image lacks.');
      componentStyles[component] = codingStyle(coc, 2, (coc[1] ?? 0) & 1);
    } else if (marker === TLM) {
      const segment = await body();
      if (segment.length < 2) throw new Jp2Error('Bad JPEG 2000 TLM marker.');
      tlm.push({ index: segment[0] ?? 0, segment });
    } else if (marker === PPM) {
      packedHeaders = true;
    } else if (marker === POC) {
      orderChanged = true;
    }
    pos += 2 + segLength;
  }
}

function parseSiz(s: Uint8Array): Siz {
  if (s.length < 36) throw new Jp2Error('Bad JPEG 2000 SIZ marker.');
  const csiz = u16(s, 34);
  if (csiz < 1 || s.length !== 36 + 3 * csiz) throw new Jp2Error('Bad JPEG 2000 SIZ marker.');
  if (csiz > MAX_COMPONENTS) throw new Jp2Error(`JPEG 2000 images with ${csiz} components are not supported.`);
  const siz: Siz = {
    x1: u32(s, 2),
    y1: u32(s, 6),
    x0: u32(s, 10),
    y0: u32(s, 14),
    tileWidth: u32(s, 18),
    tileHeight: u32(s, 22),
    tileX0: u32(s, 26),
    tileY0: u32(s, 30),
    components: [],
  };
  if (siz.x0 >= siz.x1 || siz.y0 >= siz.y1) throw new Jp2Error('JPEG 2000 image with no pixels.');
  if (siz.tileWidth < 1 || siz.tileHeight < 1) throw new Jp2Error('JPEG 2000 tile size of zero.');
  // The first tile must start at or before the image and reach into it (A.5.1).
  if (siz.tileX0 > siz.x0 || siz.tileY0 > siz.y0 || siz.tileX0 + siz.tileWidth <= siz.x0 || siz.tileY0 + siz.tileHeight <= siz.y0) {
    throw new Jp2Error('JPEG 2000 tile grid does not cover the image.');
  }
  for (let i = 0; i < csiz; i++) {
    const ssiz = s[36 + i * 3] ?? 0;
    const dx = s[37 + i * 3] ?? 0;
    const dy = s[38 + i * 3] ?? 0;
    const depth = (ssiz & 0x7f) + 1;
    if (depth > 38 || dx < 1 || dy < 1) throw new Jp2Error('Bad JPEG 2000 component in SIZ.');
    siz.components.push({ depth, signed: (ssiz & 0x80) !== 0, dx, dy });
  }
  const { columns, rows } = grid(siz);
  if (columns * rows > MAX_TILES) throw new Jp2Error(`JPEG 2000 codestream with ${columns * rows} tiles is not supported.`);
  return siz;
}

export function grid(siz: Siz): { columns: number; rows: number } {
  return {
    columns: Math.ceil((siz.x1 - siz.tileX0) / siz.tileWidth),
    rows: Math.ceil((siz.y1 - siz.tileY0) / siz.tileHeight),
  };
}

/** Number of decomposition levels in a COD (at offset 5: Scod, SGcod) or COC (offset 2: Ccoc, Scoc) body. */
function decompositionLevels(body: Uint8Array, at: number): number {
  const levels = body[at];
  if (body.length < at + 5 || levels === undefined || levels > MAX_LEVELS) throw new Jp2Error('Bad JPEG 2000 coding style marker.');
  return levels;
}

/** SPcod / SPcoc from `at`: levels, xcb, ycb, style, transform, then a precinct byte per resolution when `partitioned`. */
export function codingStyle(body: Uint8Array, at: number, partitioned: number): CodingStyle {
  const levels = decompositionLevels(body, at);
  const xcb = (body[at + 1] ?? 0) + 2;
  const ycb = (body[at + 2] ?? 0) + 2;
  // A.6.1: each exponent is 2..10, and both together at most 12.
  if (xcb > 10 || ycb > 10 || xcb + ycb > 12) throw new Jp2Error('Bad JPEG 2000 code-block size.');
  if (!partitioned) return { levels, xcb, ycb };
  if (body.length < at + 5 + levels + 1) throw new Jp2Error('Bad JPEG 2000 coding style marker.');
  const precincts: Array<[number, number]> = [];
  for (let r = 0; r <= levels; r++) {
    const b = body[at + 5 + r] ?? 0;
    precincts.push([b & 15, b >> 4]);
  }
  return { levels, xcb, ycb, precincts };
}

/**
 * Code-blocks per reference-grid pixel (B.7): a component subsampled dx × dy has 1/(dx·dy) of the
 * pixels; of those, resolution 0 holds 1/4^L and resolution r ≥ 1 three bands of 1/4^(L-r+1), cut
 * into blocks no larger than half the precinct above resolution 0.
 */
export function blocksPerPixel(siz: Siz, styleOf: (component: number) => CodingStyle): number {
  let sum = 0;
  siz.components.forEach((c, i) => {
    const s = styleOf(i);
    for (let r = 0; r <= s.levels; r++) {
      const share = r === 0 ? 4 ** -s.levels : 3 * 4 ** -(s.levels - r + 1);
      const [ppx, ppy] = s.precincts?.[r] ?? [15, 15];
      const bx = Math.min(s.xcb, r === 0 ? ppx : ppx - 1);
      const by = Math.min(s.ycb, r === 0 ? ppy : ppy - 1);
      sum += share / (c.dx * c.dy) / 2 ** (Math.max(0, bx) + Math.max(0, by));
    }
  });
  return sum;
}

/**
 * TLM (A.7.1): Ztlm, Stlm, then (Ttlm, Ptlm) pairs; Ttlm absent means one tile-part per
 * tile in tile order. Ptlm is the tile-part's length from its SOT, so the offsets follow
 * from the first SOT. Every tile-part must fit in the codestream.
 */
function tilePartsFromTlm(tlm: Array<{ index: number; segment: Uint8Array }>, firstSot: number, limit: number, tiles: number): TilePart[] {
  const parts: TilePart[] = [];
  let offset = firstSot;
  for (const { segment } of [...tlm].sort((a, b) => a.index - b.index)) {
    const stlm = segment[1] ?? 0;
    const st = (stlm >> 4) & 3;
    const sp = (stlm >> 6) & 1 ? 4 : 2;
    if (st === 3) throw new Jp2Error('Bad JPEG 2000 TLM marker.');
    const entry = st + sp;
    if ((segment.length - 2) % entry !== 0) throw new Jp2Error('Bad JPEG 2000 TLM marker.');
    for (let at = 2; at < segment.length; at += entry) {
      const tile = st === 0 ? parts.length : st === 1 ? (segment[at] ?? 0) : u16(segment, at);
      const length = sp === 4 ? u32(segment, at + st) : u16(segment, at + st);
      // An SOT segment is 12 bytes, and SOD follows it.
      if (tile >= tiles || length < 14 || offset + length > limit) throw new Jp2Error('JPEG 2000 TLM marker disagrees with the codestream.');
      // TPsot is 8 bits: no tile has more than 255 parts.
      if (parts.length >= tiles * 255) throw new Jp2Error('Too many JPEG 2000 tile-parts.');
      parts.push({ tile, offset, length });
      offset += length;
    }
  }
  return parts;
}
