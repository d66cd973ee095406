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
 * Geometry recorded in S3 object metadata (x-amz-meta-width etc.). Only a
 * single-page image gets width/height: a multi-page pyramid's level sizes are
 * not in the metadata, so the core reads them from the file instead.
 */
export function hintsFromMetadata(metadata: Metadata): SourceObject['hints'] {
  const pages = metaInt(metadata, 'pages') ?? 1;
  const width = metaInt(metadata, 'width');
  const height = metaInt(metadata, 'height');
  if (pages > 1 || width === undefined || height === undefined) return undefined;
  // serverless-iiif writes `tilesize` when the tiles are square.
  const tileWidth = metaInt(metadata, 'tilewidth') ?? metaInt(metadata, 'tilesize');
  const tileHeight = metaInt(metadata, 'tileheight') ?? metaInt(metadata, 'tilesize') ?? tileWidth;
  return {
    width,
    height,
    ...(tileWidth !== undefined && tileHeight !== undefined ? { tile: { width: tileWidth, height: tileHeight } } : {}),
  };
}
