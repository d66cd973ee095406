import type { Context } from 'hono';
import { LRUCache } from 'lru-cache';
import { endTime, startTime } from 'hono/timing';
import type { Config } from './config.ts';
import { createEdgeTileCache } from './image/edge-tile-cache.ts';
import { ENTRY_OVERHEAD, type ResponseStore, createResponseCache } from './http/response-cache.ts';
import { createSharedRenders } from './http/shared-renders.ts';
import { createGeometryCache, type GeometryCache } from './image/geometry-cache.ts';
import type { Format, IiifVersion, Limits } from './iiif/types.ts';
import type { ComplianceLevel } from './iiif/constants.ts';
import { publicBase, serviceBase } from './http/public-base.ts';
import { preflightReader } from './http/preflight.ts';
import { emitIdentifier } from './iiif/path.ts';
import { limitRenderer, renderSlotOptions } from './http/concurrency.ts';
import type { Renderer } from './renderers/renderer.ts';
import { type GeometryProbe, type ResolvedImage, resolveImage } from './image/resolve.ts';
import { type ImageSource, storedEtag } from './sources/source.ts';
import { jsonLinesLogger, type Logger } from './log/logger.ts';
import { addSourceMs } from './log/request-log.ts';
import { noMetrics, type CacheName, type Metrics } from './metrics.ts';

export interface AppOptions {
  config: Config;
  source: ImageSource;
  /** Absent on runtimes without a pixel engine (Workers): image requests needing pixels get 501. */
  renderer?: Renderer;
  /** Replaces header probing, e.g. with store metadata. */
  probe?: GeometryProbe;
  /** Request lines and failures; JSON lines on the console at `warn` when absent. */
  logger?: Logger;
  /** Request, cache and render-slot counters for the runtime's metrics; none when absent. */
  metrics?: Metrics;
  /** A larger tier for rendered responses under the memory one (Node: IIIF_RESPONSE_CACHE_DIR). */
  responseStore?: ResponseStore;
}

/** Everything a route needs, built once per app. */
export function createAppContext(options: AppOptions) {
  const { config, source, renderer } = options;
  const metrics = options.metrics ?? noMetrics;
  const counted = <V>(name: CacheName, value: V | undefined): V | undefined => {
    metrics.cacheLookup(name, value !== undefined);
    return value;
  };
  const geometries = createGeometryCache(config.IIIF_GEOMETRY_CACHE_BYTES);
  const cache: GeometryCache = {
    get: (identifier, etag) => counted('geometry', geometries.get(identifier, etag)),
    set: (identifier, etag, geometry) => geometries.set(identifier, etag, geometry),
  };
  const limits: Limits = {
    maxWidth: config.IIIF_MAX_WIDTH,
    maxHeight: config.IIIF_MAX_HEIGHT,
    maxArea: config.IIIF_MAX_AREA,
    formatMaxArea: { jp2: config.IIIF_JP2_MAX_OUTPUT_PIXELS, gif: config.IIIF_GIF_MAX_OUTPUT_PIXELS, avif: config.IIIF_AVIF_MAX_OUTPUT_PIXELS },
  };
  const preferredFormats = parseFormats(config.IIIF_PREFERRED_FORMATS);
  // Settings that shape the bytes, in the ETags (and so the response-cache keys): a client, a CDN
  // or a cache kept across restarts must not hold an answer made under other settings. `max`
  // in a canonical URL is whatever the limits allow, so they count for images too.
  const limitsTag = [config.IIIF_MAX_WIDTH, config.IIIF_MAX_HEIGHT, config.IIIF_MAX_AREA].join(',');
  const imageSettings = [
    limitsTag,
    config.IIIF_JPEG_QUALITY,
    config.IIIF_JPEG_OPTIMIZE_CODING ? 'optimized' : 'standard',
    config.IIIF_JP2_MAX_OUTPUT_PIXELS,
    config.IIIF_GIF_MAX_OUTPUT_PIXELS,
    config.IIIF_AVIF_MAX_OUTPUT_PIXELS,
    config.IIIF_DENSITY ?? '',
  ].join(' ');
  // Without a renderer info.json promises level 0 and only what stored tiles answer.
  const complianceLevel: ComplianceLevel = renderer ? 2 : 0;
  const infoSettings = [limitsTag, config.IIIF_TILE_SIZE, config.IIIF_RIGHTS ?? '', preferredFormats?.join(',') ?? '', complianceLevel].join(' ');
  const preflight = preflightReader(config);
  const emitted = { slashSubstitute: config.IIIF_SLASH_SUBSTITUTE, rawSlash: config.IIIF_RAW_SLASH_CANONICAL === 'as-received' };
  // Encoded info.json bodies: viewers fetch the same ones over and over. Keys hold the request's
  // host when no public base is set, so each entry counts its key and keeping cost too.
  const bodies = new LRUCache<string, Uint8Array>({
    maxSize: 8 * 1024 * 1024,
    sizeCalculation: (body, key) => body.byteLength + 2 * key.length + ENTRY_OVERHEAD,
  });
  const infoBodies = {
    get: (key: string) => counted('info', bodies.get(key)),
    set: (key: string, body: Uint8Array) => void bodies.set(key, body),
  };
  // A request's AbortSignal is built on first access, and costs more than a local stat: only
  // remote sources, whose calls it can cancel, get one.
  const sourceSignal = (c: Context): AbortSignal | undefined => (source.local ? undefined : c.req.raw.signal);
  return {
    config,
    source,
    sourceSignal,
    renderer: renderer && limitRenderer(renderer, { ...renderSlotOptions(config), onChange: (running, queued) => metrics.renderSlots(running, queued) }),
    limits,
    preferredFormats,
    imageSettings,
    infoSettings,
    complianceLevel,
    infoBodies,
    edgeTiles: createEdgeTileCache(config.IIIF_EDGE_TILE_CACHE_BYTES),
    sharedRenders: createSharedRenders(),
    /** Rendered responses (IIIF_RESPONSE_CACHE_BYTES, then the store); its `stats` count hits and misses. */
    responses: createResponseCache(config.IIIF_RESPONSE_CACHE_BYTES, options.responseStore),
    logger: options.logger ?? jsonLinesLogger({ level: 'warn' }),
    metrics,
    publicBase: (c: Context) => publicBase(c.req.raw, config),
    serviceBase: (c: Context, version: IiifVersion) => serviceBase(c.req.raw, config, version),
    emitIdentifier: (identifier: string) => emitIdentifier(identifier, emitted),
    /** Stat and geometry of a stored image through the shared geometry cache. */
    resolveStored: (identifier: string, signal: AbortSignal | undefined, infoOnly = false) =>
      resolveImage(source, cache, identifier, signal, options.probe, infoOnly),
    /** `sourceId` is what to read: the identifier, or the object a trusted preflight header named. */
    /** `infoOnly`: the caller needs sizes, not pixels (store-recorded pyramid levels suffice). */
    async resolve(c: Context, identifier: string, infoOnly = false): Promise<ResolvedImage & { sourceId: string }> {
      const target = preflight(c.req.raw, identifier, (message) => this.logger.warn(message));
      const timed = c.get('metric') !== undefined;
      if (timed) startTime(c, 'source', 'stat and probe');
      const started = performance.now();
      try {
        if (!target.dimensions) {
          return { ...(await this.resolveStored(target.identifier, sourceSignal(c), infoOnly)), sourceId: target.identifier };
        }
        // Header geometry is per request: no probe, no shared geometry cache, and an ETag of its own.
        const { width, height } = target.dimensions;
        const resolved = await resolveImage(source, UNCACHED, target.identifier, sourceSignal(c), async () => ({ width, height, format: 'unknown' }));
        const object = { ...resolved.object, etag: `${resolved.object.etag}:${width}x${height}`, stored: storedEtag(resolved.object) };
        return { object, geometry: resolved.geometry, sourceId: target.identifier };
      } finally {
        addSourceMs(c, performance.now() - started);
        if (timed) endTime(c, 'source');
      }
    },
  };
}

export type AppContext = ReturnType<typeof createAppContext>;

const UNCACHED: GeometryCache = { get: () => undefined, set: () => {} };

/** Checked against the known formats by the settings schema. */
function parseFormats(value: string | undefined): Format[] | undefined {
  return value ? (value.split(',').map((s) => s.trim()) as Format[]) : undefined;
}
