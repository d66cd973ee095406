/**
 * Hand-built JPEG 2000 headers (ISO 15444-1 annex A and I) for the header parser's tests:
 * valid baselines and hostile variants without needing an encoder. Tile-part bodies are
 * filler; only the marker structure is real.
 */

export const be16 = (v: number) => [(v >> 8) & 0xff, v & 0xff];
export const be32 = (v: number) => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];

export interface SizOptions {
  width: number;
  height: number;
  x0?: number;
  y0?: number;
  tileWidth?: number;
  tileHeight?: number;
  components?: number;
  /** XRsiz, YRsiz of every component (1, 1 by default). */
  subsampling?: [number, number];
  /** XRsiz, YRsiz by component, over `subsampling` (4:2:0: [[1, 1], [2, 2], [2, 2]]). */
  componentSubsampling?: Array<[number, number]>;
}

export function siz(o: SizOptions): number[] {
  const c = o.components ?? 3;
  const x0 = o.x0 ?? 0;
  const y0 = o.y0 ?? 0;
  const body = [
    ...be16(0),
    ...be32(o.width + x0),
    ...be32(o.height + y0),
    ...be32(x0),
    ...be32(y0),
    ...be32(o.tileWidth ?? o.width),
    ...be32(o.tileHeight ?? o.height),
    ...be32(x0),
    ...be32(y0),
    ...be16(c),
  ];
  for (let i = 0; i < c; i++) body.push(7, ...(o.componentSubsampling?.[i] ?? o.subsampling ?? [1, 1]));
  return [0xff, 0x51, ...be16(body.length + 2), ...body];
}

/** COD with `levels` decomposition levels, 2^(cb+2)-px code-blocks (64×64 by default), 9/7 wavelet, and precinct bytes (PPy << 4 | PPx) if given. */
export const cod = (levels: number, cb = 4, precincts: number[] = []) =>
  [0xff, 0x52, ...be16(12 + precincts.length), precincts.length > 0 ? 1 : 0, 0, ...be16(1), 1, levels, cb, cb, 0, 0, ...precincts];
/** COC for component `c` with its own number of levels. */
export const coc = (c: number, levels: number) => [0xff, 0x53, ...be16(9), c, 0, levels, 4, 4, 0, 0];
/** QCD without quantisation (reversible): one exponent byte per sub-band, 3 × levels + 1. */
export const qcd = (levels: number) => [0xff, 0x5c, ...be16(3 + 3 * levels + 1), 0x40, ...new Array<number>(3 * levels + 1).fill(0x48)];

/** TLM with 2-byte tile indices and 4-byte lengths. */
export function tlm(parts: Array<{ tile: number; length: number }>, index = 0): number[] {
  const body = [index, 0x60];
  for (const p of parts) body.push(...be16(p.tile), ...be32(p.length));
  return [0xff, 0x55, ...be16(body.length + 2), ...body];
}

/** A tile-part: SOT (Isot, Psot), its header's marker segments, SOD, then `data` filler bytes. */
export function tilePart(tile: number, data: number, psot?: number, header: number[] = []): number[] {
  const length = psot ?? 14 + header.length + data;
  return [0xff, 0x90, ...be16(10), ...be16(tile), ...be32(length), 0, 1, ...header, 0xff, 0x93, ...new Array<number>(data).fill(0x11)];
}

export interface CodestreamOptions extends SizOptions {
  levels?: number;
  /** COD's code-block exponent byte (size 2^(cb+2)) and precinct bytes. */
  codeBlock?: number;
  precincts?: number[];
  /** Extra main-header markers after COD. */
  extra?: number[];
  /** Write TLM for the tile-parts. */
  withTlm?: boolean;
  /** Filler bytes per tile-part (default: tile index + 20, so lengths differ). */
  partData?: (tile: number) => number;
  /** Marker segments of each tile-part's header (a tile's own COD, COC). */
  partHeader?: (tile: number) => number[];
}

export function codestream(o: CodestreamOptions): Uint8Array {
  const tw = o.tileWidth ?? o.width;
  const th = o.tileHeight ?? o.height;
  const tiles = Math.ceil(o.width / tw) * Math.ceil(o.height / th);
  const dataOf = o.partData ?? ((t: number) => t + 20);
  const parts = Array.from({ length: tiles }, (_, t) => tilePart(t, dataOf(t), undefined, o.partHeader?.(t)));
  const head = [0xff, 0x4f, ...siz(o), ...cod(o.levels ?? 5, o.codeBlock, o.precincts), ...qcd(Math.min(o.levels ?? 5, 32)), ...(o.extra ?? [])];
  if (o.withTlm) head.push(...tlm(parts.map((p, tile) => ({ tile, length: p.length }))));
  return Uint8Array.from([...head, ...parts.flat(), 0xff, 0xd9]);
}

export const box = (type: string, content: ArrayLike<number>): number[] => [
  ...be32(content.length + 8),
  ...Array.from(type, (ch) => ch.charCodeAt(0)),
  ...Array.from(content),
];

export const signatureBox = () => box('jP  ', [0x0d, 0x0a, 0x87, 0x0a]);
export const ftypBox = () => box('ftyp', [...Array.from('jp2 ', (c) => c.charCodeAt(0)), 0, 0, 0, 0, ...Array.from('jp2 ', (c) => c.charCodeAt(0))]);
export const ihdrBox = (w: number, h: number, c = 3) => box('ihdr', [...be32(h), ...be32(w), ...be16(c), 7, 7, 0, 0]);
export const colrBox = (enumerated = 16) => box('colr', [1, 0, 0, ...be32(enumerated)]);
/** cdef marking channel `alpha` as opacity. */
export const cdefBox = (channels: number, alpha: number) => {
  const body = [...be16(channels)];
  for (let i = 0; i < channels; i++) body.push(...be16(i), ...be16(i === alpha ? 1 : 0), ...be16(i === alpha ? 0 : i + 1));
  return box('cdef', body);
};

/** A JP2 file around `cs`, with the jp2h boxes given (ihdr and colr by default). */
export function jp2File(cs: Uint8Array, width: number, height: number, header?: number[]): Uint8Array {
  const jp2h = box('jp2h', header ?? [...ihdrBox(width, height), ...colrBox()]);
  return Uint8Array.from([...signatureBox(), ...ftypBox(), ...jp2h, ...box('jp2c', cs)]);
}
