import { encodeIdentifier, splitIiifPath } from '../../src/iiif/path.ts';
import { deriveTiles } from '../../src/iiif/tiles.ts';

/** cs-uri-stem's column in a CloudFront standard log when no #Fields line says otherwise. */
const CLOUDFRONT_STEM = 7;
const CLOUDFRONT_DATE = /^\d{4}-\d\d-\d\d\t/;
const REQUEST_LINE = /"(?:GET|HEAD) (\S+) HTTP\/[\d.]+"/;

export interface PathList {
  /** IIIF paths below the base (`{id}/info.json`, `{id}/{region}/{size}/{rotation}/{quality}.{format}`), each once. */
  paths: string[];
  /** Lines that held no IIIF request under the base. */
  ignored: number;
}

/**
 * Paths from a URL list or an access log: full URLs, absolute paths, paths below the base, the
 * request line of a common/combined log, or cs-uri-stem of a CloudFront standard log. Only
 * what the core's own parser accepts as a IIIF request is kept.
 */
export function pathsFromLines(text: string, basePath: string): PathList {
  const seen = new Set<string>();
  let ignored = 0;
  // Without a #Fields line, CloudFront's default column, on lines that start with its date field.
  let stemColumn: number | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const fields = /^#Fields:\s*(.*)$/.exec(line)?.[1]?.split(/\s+/);
      if (fields?.includes('cs-uri-stem')) stemColumn = fields.indexOf('cs-uri-stem');
      continue;
    }
    const tail = iiifTail(requestTarget(raw, stemColumn ?? (CLOUDFRONT_DATE.test(line) ? CLOUDFRONT_STEM : undefined)), basePath);
    if (tail === undefined || seen.has(tail)) {
      if (tail === undefined) ignored++;
      continue;
    }
    seen.add(tail);
  }
  return { paths: [...seen], ignored };
}

function requestTarget(line: string, stemColumn: number | undefined): string {
  const logged = REQUEST_LINE.exec(line)?.[1];
  if (logged !== undefined) return logged;
  const columns = line.split('\t');
  if (stemColumn !== undefined && columns.length > stemColumn) return cloudfrontField(columns[stemColumn] ?? '');
  return line.trim();
}

/**
 * CloudFront encodes `%`, spaces and some other characters again in its log fields (a request for
 * `a%2Fb` is logged as `a%252Fb`): decoded once, the field is the path as the viewer sent it.
 */
function cloudfrontField(field: string): string {
  try {
    return decodeURIComponent(field);
  } catch {
    return field;
  }
}

/** The part after the base path, when it is a valid IIIF request for the core's parser. */
function iiifTail(target: string, basePath: string): string | undefined {
  // A line no URL parser reads (`http://[oops/…`) is ignored like any other non-request line.
  try {
    let path = target.split(/[?#]/)[0] ?? '';
    if (/^https?:\/\//i.test(path)) path = new URL(path).pathname;
    if (path.startsWith('/')) {
      if (!path.startsWith(`${basePath}/`)) return undefined;
      path = path.slice(basePath.length + 1);
    }
    return splitIiifPath(path).kind === 'base' ? undefined : path;
  } catch {
    return undefined;
  }
}

/** The fields of an info.json that a viewer uses to build its requests. */
export interface ViewerInfo {
  version: 2 | 3;
  width: number;
  height: number;
  tiles?: Array<{ width: number; height?: number; scaleFactors: number[] }>;
  sizes?: Array<{ width: number; height: number }>;
}

/** A viewer's thumbnail request (Mirador, UV), plus the listed sizes a viewer picks from. */
const THUMBNAIL = 'full/!200,200/0/default.jpg';
const LISTED_SIZES = 3;

/**
 * What a deep-zoom viewer asks for one image: info.json, the first, middle and last (edge) tile
 * at every scale factor, and thumbnails. Tiles come from the reference server's info.json, or
 * from the core's own tiling when it lists none a viewer could use.
 */
export function viewerPaths(identifier: string, info: ViewerInfo): string[] {
  const id = encodeIdentifier(identifier);
  const tiles = info.tiles?.length ? info.tiles : deriveTiles({ width: info.width, height: info.height }, 512);
  const out = new Set<string>(infoAndThumbnail(identifier));
  const small = [...(info.sizes ?? [])].sort((a, b) => a.width - b.width).slice(0, LISTED_SIZES);
  for (const s of small) out.add(`${id}/full/${info.version === 3 ? `${s.width},${s.height}` : `${s.width},`}/0/default.jpg`);
  for (const tile of tiles) {
    const tw = tile.width;
    const th = tile.height ?? tile.width;
    for (const scale of tile.scaleFactors) {
      const across = Math.ceil(info.width / (tw * scale));
      const down = Math.ceil(info.height / (th * scale));
      const picks = new Set([0, Math.floor((across * down) / 2), across * down - 1]);
      for (const n of picks) out.add(`${id}/${tileRequest(info, n % across, Math.floor(n / across), tw, th, scale)}`);
    }
  }
  return [...out];
}

/** The requests of a viewer set that need no info.json to be built. */
export function infoAndThumbnail(identifier: string): string[] {
  const id = encodeIdentifier(identifier);
  return [`${id}/info.json`, `${id}/${THUMBNAIL}`];
}

/** The tile request OpenSeadragon makes: `w,h` sizes in 3.0, `w,` in 2.1. */
function tileRequest(info: ViewerInfo, col: number, row: number, tw: number, th: number, scale: number): string {
  const x = col * tw * scale;
  const y = row * th * scale;
  const w = Math.min(tw * scale, info.width - x);
  const h = Math.min(th * scale, info.height - y);
  const sw = Math.ceil(w / scale);
  const sh = Math.ceil(h / scale);
  const region = x === 0 && y === 0 && w === info.width && h === info.height ? 'full' : `${x},${y},${w},${h}`;
  return `${region}/${info.version === 3 ? `${sw},${sh}` : `${sw},`}/0/default.jpg`;
}
