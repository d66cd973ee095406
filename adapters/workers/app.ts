import type { Hono } from 'hono';
import { createApp } from '../../src/app.ts';
import { ConfigError, loadConfig, type Env } from '../../src/config.ts';
import { forwardRenderer, type ResponseCache } from '../../src/renderers/forward-renderer.ts';
import { r2Source, type R2BucketLike } from '../../src/sources/r2-source.ts';
import { workersLogger } from './log.ts';

/** Worker env: string vars plus bindings (the R2 bucket). */
export type WorkerEnv = Record<string, unknown>;


const isBucket = (value: unknown): value is R2BucketLike =>
  typeof value === 'object' && value !== null && 'head' in value && 'get' in value;

/** `caches.default` exists only in workerd; elsewhere renders are simply not cached. */
function defaultCache(): ResponseCache | undefined {
  return (globalThis as { caches?: { default?: ResponseCache } }).caches?.default;
}

/** The same core app as on Node and Lambda, with R2 as the source and, optionally, a render origin. */
export function buildWorkerApp(env: WorkerEnv): Hono {
  const vars: Env = {};
  for (const [key, value] of Object.entries(env)) if (typeof value === 'string') vars[key] = value;
  // Forwarded renders wait on the network, not the CPU; each buffers its image, so isolate memory (128 MB) is the bound.
  const config = loadConfig({ IIIF_SOURCE: 'r2', IIIF_MAX_CONCURRENT_RENDERS: '16', ...vars });
  if (config.IIIF_SOURCE !== 'r2') {
    throw new ConfigError(`invalid configuration: IIIF_SOURCE: the Workers adapter serves r2, not ${config.IIIF_SOURCE}`);
  }
  const bucket = env[config.IIIF_R2_BINDING];
  if (!isBucket(bucket)) {
    throw new ConfigError(`invalid configuration: IIIF_R2_BINDING: no R2 bucket bound as ${config.IIIF_R2_BINDING}`);
  }
  const source = r2Source({
    bucket,
    prefix: config.IIIF_S3_PREFIX,
    keyTemplate: config.IIIF_S3_KEY_TEMPLATE,
    timeoutMs: config.IIIF_SOURCE_TIMEOUT_MS,
  });
  const logger = workersLogger(config);
  const renderer = config.IIIF_RENDER_ORIGIN
    ? forwardRenderer({
        origin: config.IIIF_RENDER_ORIGIN,
        timeoutMs: config.IIIF_RENDER_TIMEOUT_MS,
        maxBytes: config.IIIF_FORWARD_MAX_BYTES,
        cacheControl: config.IIIF_CACHE_CONTROL_IMAGE,
        cache: defaultCache(),
        log: (line, cause) => logger.warn(line, { err: cause }),
      })
    : undefined;
  return createApp({ config, source, renderer, logger });
}
