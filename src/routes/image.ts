import type { Context } from 'hono';
import { setMetric } from 'hono/timing';
import { httpError } from '../errors.ts';
import { FORMAT_MEDIA_TYPES, PROFILE_URI } from '../iiif/constants.ts';
import { planForRender, planImage } from '../iiif/plan.ts';
import type { ImageRequest, IiifVersion, RenderPlan } from '../iiif/types.ts';
import { makeEtag } from '../http/etag.ts';
import { conditionalResponse } from './conditional.ts';
import { hitRate } from '../http/response-cache.ts';
import type { AppContext } from '../app-context.ts';
import type { SourceGeometry } from '../image/geometry.ts';
import { addSourceMs, served } from '../log/request-log.ts';
import { type AlignedTile, type PooledTile, type RangeInto, alignedTile, iccProfileReader, readAlignedTile, readWholeTileInto, tileLocator } from '../image/tile-passthrough.ts';
import type { TileBuffers } from '../image/tile-buffers.ts';
import { type ImageSource, pinnedTo } from '../sources/source.ts';
import type { TiffLevel } from '../tiff/index.ts';

const CONDITIONAL = ['if-none-match', 'if-modified-since'];

/** Bumped when rendering changes the bytes for the same request, to retire old ETags. */
const RENDER_REVISION = 'r8';

export async function imageResponse(
  c: Context,
  app: AppContext,
  version: IiifVersion,
  requested: string,
  request: ImageRequest,
) {
  const { config } = app;
  // The request timeout runs from about here (parsing is microseconds); renders stop at it.
  const deadline = Date.now() + config.IIIF_REQUEST_TIMEOUT_MS;
  // From here on `identifier` names what is read; `requested` is what the URLs we emit carry.
  const { object, geometry, sourceId: identifier } = await app.resolve(c, requested);
  // Every read below is of the version just stat'ed: a replaced object fails them and the request is retried.
  const source = pinnedTo(app.source, object);
  const plan = planImage(request, geometry, app.limits);
  checkInputPixels(plan, geometry, config.IIIF_MAX_INPUT_PIXELS);

  const head = imageHead(app, version, requested, plan, object.etag, app.publicBase(c));
  const { canonicalPath } = head;
  const tile = alignedTile(plan, geometry);
  const input = { identifier, object, source, geometry, version, canonicalPath, etag: head.etag, signal: c.req.raw.signal, deadline };
  // What a renderer makes, when the stored tile does not answer: a larger level than a rounding
  // pixel short, unless that one is over IIIF_MAX_INPUT_PIXELS (then it is enlarged, as before).
  const larger = planForRender(plan, geometry);
  const renderPlan = larger === plan || withinInputPixels(larger, geometry, config.IIIF_MAX_INPUT_PIXELS) ? larger : plan;
  // A HEAD or a 304 says the GET would succeed: what a render refuses from the header, it refuses too,
  // and without a renderer only a stored tile succeeds.
  if (!tile && !app.renderer) throw noRenderer();
  const checked =
    !tile && app.renderer?.check && (c.req.method === 'HEAD' || CONDITIONAL.some((name) => c.req.header(name) !== undefined))
      ? await app.renderer.check(input, renderPlan)
      : undefined;
  for (const [name, value] of head.headers) c.header(name, value);
  if (checked?.otherVersion) {
    // As its GET will be: no validators, nothing kept; a conditional GET gets the whole answer.
    c.header('Cache-Control', 'no-store');
    if (c.req.method === 'HEAD') {
      served(c, 'head', 0);
      return c.body(null, 200);
    }
  } else {
    const bodiless = conditionalResponse(c, head.etag, object.lastModified);
    if (bodiless) return bodiless;
  }

  const reading = performance.now();
  const stored = tile && (await readStoredTile(app, source, identifier, object.etag, geometry, tile, app.sourceSignal(c)));
  if (stored) {
    const readMs = performance.now() - reading;
    setMetric(c, 'read', readMs, 'stored tile read');
    setMetric(c, 'path', 'passthrough');
    addSourceMs(c, readMs);
    served(c, 'passthrough', stored.byteLength);
    return c.body(stored as Uint8Array<ArrayBuffer>, 200);
  }
  if (!app.renderer) throw noRenderer();
  // The response ETag covers the source version, render revision and quality; the path, the rest.
  const cacheKey = `${head.etag} ${canonicalPath}`;
  const cached = await app.responses?.get(cacheKey);
  if (app.responses) {
    app.metrics.cacheLookup('response', cached !== undefined);
    setMetric(c, 'cache', cached ? (cached.from === 'store' ? 'hit-store' : 'hit') : 'miss');
    setMetric(c, 'cache-hit-rate', hitRate(app.responses.stats).toFixed(3));
  }
  if (cached) {
    setMetric(c, 'path', cached.via);
    served(c, 'cache', cached.body.byteLength);
    return c.body(cached.body, 200);
  }
  const started = performance.now();
  const { renderer } = app;
  const { output, joined } = await app.sharedRenders.run(cacheKey, c.req.raw.signal, (signal) => renderer.render({ ...input, signal }, renderPlan));
  const { body, readMs, via, queueMs = 0, otherVersion } = output;
  setMetric(c, 'path', via ?? 'render');
  if (otherVersion) {
    // Not the version the ETag names: no client or CDN may keep it, or revalidate it as that version.
    c.header('Cache-Control', 'no-store');
    c.header('ETag', undefined);
    c.header('Last-Modified', undefined);
  }
  if (joined) {
    // Another request's render answered this one too: its time is that request's.
    setMetric(c, 'shared', performance.now() - started, 'waiting for the same render');
    served(c, 'shared', body.byteLength);
    return c.body(body, 200);
  }
  served(c, via ?? 'render', body.byteLength);
  const renderMs = performance.now() - started - readMs - queueMs;
  if (queueMs >= 0.05) setMetric(c, 'queue', queueMs, 'waiting for a render slot');
  setMetric(c, 'read', readMs, 'source read');
  setMetric(c, 'render', renderMs, 'render');
  addSourceMs(c, readMs);
  c.set('renderMs', renderMs);
  if (!otherVersion) app.responses?.set(cacheKey, { body, via: via ?? 'render' });
  return c.body(body, 200);
}

/**
 * The canonical path, headers and ETag of an image answer: shared with the direct answers
 * (./direct.ts). `base` is the public origin the Link header names.
 */
export function imageHead(app: AppContext, version: IiifVersion, requested: string, plan: RenderPlan, sourceEtag: string, base: string) {
  const { config } = app;
  const canonicalPath = `${config.IIIF_PREFIX}/${version}/${app.emitIdentifier(requested)}/${plan.canonical}`;
  const headers: Array<[string, string]> = [
    ['Link', `<${base}${canonicalPath}>;rel="canonical", <${PROFILE_URI[version][app.complianceLevel]}>;rel="profile"`],
    ['Content-Type', FORMAT_MEDIA_TYPES[plan.format]],
    ['Cache-Control', config.IIIF_CACHE_CONTROL_IMAGE],
  ];
  const etag = makeEtag(['image', RENDER_REVISION, sourceEtag, `${version}`, plan.canonical, app.imageSettings]);
  return { canonicalPath, headers, etag };
}

/** A stored tile's bytes, from the version of the source `source` is pinned to. */
export function readStoredTile(
  app: AppContext,
  source: ImageSource,
  identifier: string,
  sourceEtag: string,
  geometry: SourceGeometry,
  tile: AlignedTile,
  signal: AbortSignal | undefined,
): Promise<Uint8Array | undefined> {
  const read = (offset: number, length: number) => source.read(identifier, { offset, length }, signal);
  // The level's tile table is shared by concurrent requests: no one client's hang-up may cancel it.
  const shared = (offset: number, length: number) => source.read(identifier, { offset, length });
  const store = app.edgeTiles && { cache: app.edgeTiles, identifier, etag: sourceEtag };
  const profileOf = tile.level.iccProfile ? iccProfileReader(shared, geometry) : undefined;
  return readAlignedTile(read, tileLocator(shared, geometry), tile, store, profileOf);
}

/**
 * `readStoredTile` into a buffer of `buffers` (`readWholeTileInto`) where the source reads into
 * buffers (local files); undefined where it does not, or for a tile that needs `readStoredTile`.
 */
export async function readStoredTileInto(
  source: ImageSource,
  identifier: string,
  geometry: SourceGeometry,
  tile: AlignedTile,
  buffers: TileBuffers,
): Promise<PooledTile | undefined> {
  const { readInto } = source;
  if (!readInto) return undefined;
  const shared = (offset: number, length: number) => source.read(identifier, { offset, length });
  const into: RangeInto = (offset, length, buffer) => readInto.call(source, identifier, { offset, length }, buffer);
  return readWholeTileInto(into, tileLocator(shared, geometry), tile, buffers);
}

/**
 * Refuse before decoding when more pixels would be decoded than allowed: the stored tiles that
 * cover the region of a tiled TIFF level (libvips reads no others; a passed-through tile decodes
 * none), else the whole level. JPEG 2000 is checked by its renderer, by the code-stream tiles it decodes.
 */
const withinInputPixels = (plan: RenderPlan, geometry: SourceGeometry, max: number): boolean => {
  try {
    checkInputPixels(plan, geometry, max);
    return true;
  } catch {
    return false;
  }
};

export function checkInputPixels(plan: RenderPlan, geometry: SourceGeometry, max: number): void {
  if (geometry.jp2) return;
  const level = geometry.levels?.[plan.level] ?? geometry;
  const tiff = geometry.tiffLevels?.[plan.level];
  const decoded = tiff?.tiled ? coveringPixels(plan.levelRegion, tiff) : level.width * level.height;
  if (decoded > max) {
    throw httpError(
      400,
      'over_limit',
      tiff?.tiled
        ? `the region needs ${decoded} pixels of stored tiles decoded; limit ${max} pixels (IIIF_MAX_INPUT_PIXELS)`
        : `the source image is too large to render (${level.width}x${level.height} pixels; limit ${max} pixels)`,
    );
  }
}

/** Pixels of the tile-grid cells a region touches, clipped to the level. */
function coveringPixels(r: { x: number; y: number; w: number; h: number }, level: TiffLevel): number {
  const along = (start: number, length: number, tile: number, size: number) =>
    Math.min(size, Math.ceil((start + length) / tile) * tile) - Math.floor(start / tile) * tile;
  return along(r.x, r.w, level.tileWidth, level.width) * along(r.y, r.h, level.tileHeight, level.height);
}

const noRenderer = () =>
  httpError(501, 'not_implemented', 'this deployment has no image renderer: it serves info.json and aligned JPEG tiles of tiled TIFFs only');
