import type { Jp2Area } from './codec.ts';
import type { TilePart } from './codestream.ts';
import { Jp2Error } from './errors.ts';
import type { RangeRead } from './reader.ts';
import { u16, u32 } from './reader.ts';
import type { Jp2Structure } from './structure.ts';

/** Ranges closer than this are read as one, trading a few wasted bytes for a round trip. */
const MERGE_GAP = 16 * 1024;
/** Range reads in flight at once for one request. */
const PARALLEL_READS = 8;
const TLM = 0xff55;

/** Tile indices whose tiles meet `area` (image coordinates, x1/y1 exclusive). */
export function coveringTiles(s: Jp2Structure, area: Jp2Area): number[] {
  const { siz } = s;
  const col = (x: number) => Math.floor((siz.x0 + x - siz.tileX0) / siz.tileWidth);
  const row = (y: number) => Math.floor((siz.y0 + y - siz.tileY0) / siz.tileHeight);
  const tiles: number[] = [];
  for (let r = row(area.y0); r <= row(area.y1 - 1); r++) for (let c = col(area.x0); c <= col(area.x1 - 1); c++) tiles.push(r * s.columns + c);
  return tiles;
}

/**
 * Full-resolution pixels of `tiles` inside the image. OpenJPEG sets up every code-block of a
 * tile it decodes, even at a reduction or for a small area, so this is what a decode costs
 * in time and memory: a 60000² untiled image takes about a minute and 1 GB for any request.
 */
export function tilePixels(s: Jp2Structure, tiles: number[]): number {
  const { siz } = s;
  let sum = 0;
  for (const t of tiles) {
    const x = siz.tileX0 + (t % s.columns) * siz.tileWidth;
    const y = siz.tileY0 + Math.floor(t / s.columns) * siz.tileHeight;
    const w = Math.min(x + siz.tileWidth, siz.x1) - Math.max(x, siz.x0);
    const h = Math.min(y + siz.tileHeight, siz.y1) - Math.max(y, siz.y0);
    sum += w * h;
  }
  return sum;
}

/** Bytes of the tile-parts of `tiles`. */
export function coveringBytes(parts: TilePart[], tiles: number[]): number {
  const wanted = new Set(tiles);
  return parts.reduce((sum, p) => (wanted.has(p.tile) ? sum + p.length : sum), 0);
}

interface Range {
  offset: number;
  length: number;
}

/** The tile-parts of `tiles` a decode needs, and how many each tile keeps when not all. */
export interface DecodeParts {
  parts: TilePart[];
  perTile?: number;
}

/** Most tile-part bytes a subset may hold, and the error past it. */
export interface SubsetLimit {
  bytes: number;
  refuse: () => Error;
}

/**
 * The tile-parts of `tiles` that a decode at reduction `reduce` needs. Resolution-major packets
 * split into one tile-part per resolution (Kakadu's ORGtparts=R, OpenJPEG's `-TP R`) hold a
 * tile's lowest resolutions in its first tile-parts, so only the first `levels + 1 - reduce`
 * of each are needed. In any other layout, or when a tile has another number of tile-parts,
 * all of them.
 */
export function partsForDecode(s: Jp2Structure, index: TilePart[], tiles: number[], reduce: number): DecodeParts {
  const wanted = new Set(tiles);
  const parts = index.filter((p) => wanted.has(p.tile));
  const resolutions = s.levels + 1;
  if (!s.resolutionMajor || reduce <= 0 || reduce >= resolutions) return { parts };
  const count = new Map<number, number>();
  for (const p of parts) count.set(p.tile, (count.get(p.tile) ?? 0) + 1);
  if (tiles.some((t) => count.get(t) !== resolutions)) return { parts };
  const perTile = resolutions - reduce;
  const seen = new Map<number, number>();
  const kept = parts.filter((p) => {
    const k = seen.get(p.tile) ?? 0;
    seen.set(p.tile, k + 1);
    return k < perTile;
  });
  return { parts: kept, perTile };
}

/**
 * A JP2 (or raw J2K) holding the main header and only the tile-parts of `tiles` a decode at
 * `reduce` needs (see partsForDecode), each still carrying its own tile index, read by range
 * (`index`: from TLM, or the SOT walk). OpenJPEG skips tiles absent from the codestream, and
 * decodes only those meeting the decode area anyway. The TLM markers are dropped, since they
 * describe tile-parts that are no longer there. Tiles cut to their first tile-parts say so in
 * their SOT (TNsot); if a kept tile-part is not its tile's next (TPsot) or its header changes the
 * coding order, all are read instead.
 */
export async function readTileSubset(
  s: Jp2Structure,
  index: TilePart[],
  tiles: number[],
  read: RangeRead,
  reduce = 0,
  limit?: SubsetLimit,
): Promise<Uint8Array<ArrayBuffer>> {
  const { parts, perTile } = partsForDecode(s, index, tiles, reduce);
  const mainHeader: Range = { offset: s.codestream.offset, length: s.end - s.codestream.offset };
  const boxes = s.codestream.header;
  const ranges = [...(boxes ? [boxes] : []), mainHeader, ...parts];
  let bodies = await readRanges(ranges, read);
  const jp2h = boxes ? bodies.shift() : undefined;
  const header = bodies.shift();
  if (!header) throw new Jp2Error('JPEG 2000 main header missing.');
  bodies.forEach((b, i) => checkTilePart(b, parts[i]?.tile ?? -1));
  if (perTile !== undefined) {
    // Each kept tile-part must be its tile's k-th (TPsot) and keep the coding order; else read them all.
    const seen = new Map<number, number>();
    const inOrder = (b: Uint8Array, i: number) => {
      const tile = parts[i]?.tile ?? -1;
      const k = seen.get(tile) ?? 0;
      seen.set(tile, k + 1);
      return b[10] === k && keepsCodingOrder(b);
    };
    if (!bodies.every(inOrder)) {
      // The caller sized the read by the kept tile-parts: all of them must fit its bound too.
      if (limit && coveringBytes(index, tiles) > limit.bytes) throw limit.refuse();
      return readTileSubset(s, index, tiles, read);
    }
    bodies = bodies.map((b) => {
      // A copy even of a Node Buffer, whose slice() would share the source's memory.
      const part = new Uint8Array(b);
      part[11] = perTile; // TNsot
      return part;
    });
  }
  const codestream = [withoutTlm(header), ...bodies, Uint8Array.of(0xff, 0xd9)];
  if (!jp2h) return concat(codestream);
  // One copy of the tile data: the box header needs only the codestream's length.
  const length = codestream.reduce((n, c) => n + c.length, 0);
  return concat([SIGNATURE_AND_FTYP, jp2h, boxHeader('jp2c', length), ...codestream]);
}

/** Markers of a tile-part header that change which packets come first: COD, COC, POC, and PPT's packet headers. */
const REORDERING = new Set([0xff52, 0xff53, 0xff5f, 0xff61]);
const SOD = 0xff93;

/** Whether a tile-part's header (its SOT segment up to SOD) leaves the main header's coding order as it is. */
function keepsCodingOrder(part: Uint8Array): boolean {
  // Each step moves on at least 4 bytes: at most part.length / 4 markers.
  for (let pos = 12; pos + 4 <= part.length; ) {
    const marker = u16(part, pos);
    if (marker === SOD) return true;
    if (REORDERING.has(marker)) return false;
    const length = u16(part, pos + 2);
    if (length < 2) throw new Jp2Error('Bad JPEG 2000 marker segment length.');
    pos += 2 + length;
  }
  throw new Jp2Error('JPEG 2000 tile-part without SOD.');
}

/** Reads each range, merging near neighbours, a few at a time; returns them in the order given. */
async function readRanges(ranges: Range[], read: RangeRead): Promise<Uint8Array[]> {
  const order = ranges.map((r, i) => ({ ...r, i })).sort((a, b) => a.offset - b.offset);
  const groups: Array<{ offset: number; end: number; members: typeof order }> = [];
  for (const r of order) {
    const last = groups.at(-1);
    if (last && r.offset - last.end <= MERGE_GAP) {
      last.end = Math.max(last.end, r.offset + r.length);
      last.members.push(r);
    } else {
      groups.push({ offset: r.offset, end: r.offset + r.length, members: [r] });
    }
  }
  const out = new Array<Uint8Array>(ranges.length);
  const fetchGroup = async (g: (typeof groups)[number]) => {
    const bytes = await read(g.offset, g.end - g.offset);
    if (bytes.length < g.end - g.offset) throw new Jp2Error('Unexpected end of JPEG 2000 file.');
    for (const m of g.members) out[m.i] = bytes.subarray(m.offset - g.offset, m.offset - g.offset + m.length);
  };
  for (let i = 0; i < groups.length; i += PARALLEL_READS) await Promise.all(groups.slice(i, i + PARALLEL_READS).map(fetchGroup));
  return out;
}

/** A tile-part must start with its SOT naming the tile TLM said, with the length TLM gave (or 0: to the end). */
function checkTilePart(b: Uint8Array, tile: number): void {
  const psot = u32(b, 6);
  if (u16(b, 0) !== 0xff90 || u16(b, 4) !== tile || (psot !== b.length && psot !== 0)) {
    throw new Jp2Error('JPEG 2000 TLM marker disagrees with the codestream.');
  }
}

/** The main header (SOC to the first SOT) without its TLM marker segments. */
function withoutTlm(header: Uint8Array): Uint8Array {
  const kept: Uint8Array[] = [header.subarray(0, 2)];
  for (let pos = 2; pos + 4 <= header.length; ) {
    const length = u16(header, pos + 2);
    if (length < 2) throw new Jp2Error('Bad JPEG 2000 marker segment length.');
    if (u16(header, pos) !== TLM) kept.push(header.subarray(pos, pos + 2 + length));
    pos += 2 + length;
  }
  return concat(kept);
}

function concat(chunks: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function boxHeader(type: string, contentLength: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setUint32(0, contentLength + 8);
  for (let i = 0; i < 4; i++) b[4 + i] = type.charCodeAt(i);
  return b;
}

const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0));
/** Signature box, then ftyp: brand 'jp2 ', minor version 0, compatible with 'jp2 '. */
const SIGNATURE_AND_FTYP = Uint8Array.from([
  0, 0, 0, 12, ...ascii('jP  '), 0x0d, 0x0a, 0x87, 0x0a,
  0, 0, 0, 20, ...ascii('ftyp'), ...ascii('jp2 '), 0, 0, 0, 0, ...ascii('jp2 '),
]);
