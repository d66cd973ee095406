import type { Context } from 'hono';
import { LRUCache } from 'lru-cache';
import { endTime, startTime } from 'hono/timing';
import type { Config } from './config.ts';
import { createGeometryCache } from './image/geometry-cache.ts';
import { FORMATS } from './iiif/constants.ts';
import type { Format, IiifVersion, Limits } from './iiif/types.ts';
import { publicBase, serviceBase } from './http/public-base.ts';
import { limitRenderer, renderSlotOptions } from './http/concurrency.ts';
import type { Renderer } from './renderers/renderer.ts';
import { type GeometryProbe, type ResolvedImage, resolveImage } from './image/resolve.ts';
import type { ImageSource } from './sources/source.ts';
import { ConfigError } from './config.ts';

export interface AppOptions {
  config: Config;
  source: ImageSource;
  /** Absent on runtimes without a pixel engine (Workers): image requests needing pixels get 501. */
  renderer?: Renderer;
  /** Replaces header probing, e.g. with store metadata. */
  probe?: GeometryProbe;
  log?: (line: string, cause?: unknown) => void;
}

/** Everything a route needs, built once per app. */
export function createAppContext(options: AppOptions) {
  const { config, source, renderer } = options;
  const cache = createGeometryCache();
  const limits: Limits = {
    maxWidth: config.IIIF_MAX_WIDTH,
    maxHeight: config.IIIF_MAX_HEIGHT,
    maxArea: config.IIIF_MAX_AREA,
  };
  const preferredFormats = parseFormats(config.IIIF_PREFERRED_FORMATS);
  // Serialised info.json bodies: viewers fetch the same ones over and over.
  const infoBodies = new LRUCache<string, string>({ maxSize: 8 * 1024 * 1024, sizeCalculation: (body) => body.length || 1 });
  // A request's AbortSignal is built on first access, and costs more than a local stat: only
  // remote sources, whose calls it can cancel, get one.
  const sourceSignal = (c: Context): AbortSignal | undefined => (source.local ? undefined : c.req.raw.signal);
  return {
    config,
    source,
    sourceSignal,
    renderer: renderer && limitRenderer(renderer, renderSlotOptions(config)),
    limits,
    preferredFormats,
    infoBodies,
    log: options.log ?? ((line: string, cause?: unknown) => console.error(line, cause ?? '')),
    publicBase: (c: Context) => publicBase(c.req.raw, config),
    serviceBase: (c: Context, version: IiifVersion) => serviceBase(c.req.raw, config, version),
    async resolve(c: Context, identifier: string): Promise<ResolvedImage> {
      const timed = c.get('metric') !== undefined;
      if (timed) startTime(c, 'source', 'stat and probe');
      try {
        return await resolveImage(source, cache, identifier, sourceSignal(c), options.probe);
      } finally {
        if (timed) endTime(c, 'source');
      }
    },
  };
}

export type AppContext = ReturnType<typeof createAppContext>;

function parseFormats(value: string | undefined): Format[] | undefined {
  if (!value) return undefined;
  const list = value.split(',').map((s) => s.trim());
  const bad = list.find((f) => !(FORMATS as string[]).includes(f));
  if (bad !== undefined) {
    throw new ConfigError(`invalid configuration: IIIF_PREFERRED_FORMATS: unknown format "${bad}"`);
  }
  return list as Format[];
}
