import type { SourceObject } from './source.ts';

type Metadata = Record<string, string> | undefined;

/** A positive whole number from `name` or `iiif-name` (serverless-iiif writes either). */
function metaInt(metadata: Metadata, name: string): number | undefined {
  const raw = metadata?.[name] ?? metadata?.[`iiif-${name}`];
  if (raw === undefined || !/^\s*\d{1,9}\s*$/.test(raw)) return undefined;
  const n = Number(raw);
  return n > 0 ? n : undefined;
}

/**
 * Geometry recorded in S3 object metadata (x-amz-meta-width etc.): a flat image's size and tile,
 * or a pyramid's level sizes when `levels` lists them (enough for info.json; pixels still need
 * the file's tile tables, so renders and tiles read its header).
 */
export function hintsFromMetadata(metadata: Metadata): SourceObject['hints'] {
  const pages = metaInt(metadata, 'pages') ?? 1;
  const width = metaInt(metadata, 'width');
  const height = metaInt(metadata, 'height');
  if (width === undefined || height === undefined) return undefined;
  // serverless-iiif writes `tilesize` when the tiles are square.
  const tileWidth = metaInt(metadata, 'tilewidth') ?? metaInt(metadata, 'tilesize');
  const tileHeight = metaInt(metadata, 'tileheight') ?? metaInt(metadata, 'tilesize') ?? tileWidth;
  const tile = tileWidth !== undefined && tileHeight !== undefined ? { tile: { width: tileWidth, height: tileHeight } } : {};
  if (pages === 1) return { width, height, ...tile };
  // A pyramid's level sizes (`iiif-edge prepare` writes them) let info.json skip the file; without
  // them, halving `width` would guess sizes a viewer then asks for and the file does not have.
  const levels = metaLevels(metadata, pages, width, height);
  return levels && tileWidth !== undefined ? { width, height, levels, ...tile } : undefined;
}

const MAX_LEVELS = 32;

/** `levels` = `12000x9000,6000x4500,…`: one entry per page, the first the full size, each smaller than the last. */
function metaLevels(metadata: Metadata, pages: number, width: number, height: number) {
  const raw = metadata?.levels ?? metadata?.['iiif-levels'];
  if (raw === undefined || pages > MAX_LEVELS || raw.length > MAX_LEVELS * 24) return undefined;
  const levels = raw.split(',').map((entry) => {
    const m = /^\s*(\d{1,9})x(\d{1,9})\s*$/.exec(entry);
    return m ? { width: Number(m[1]), height: Number(m[2]) } : undefined;
  });
  if (levels.length !== pages || levels[0]?.width !== width || levels[0]?.height !== height) return undefined;
  for (let i = 1; i < levels.length; i++) {
    const [a, b] = [levels[i - 1], levels[i]];
    if (!a || !b || b.width < 1 || b.height < 1 || b.width >= a.width || b.height > a.height) return undefined;
  }
  return levels as Array<{ width: number; height: number }>;
}
