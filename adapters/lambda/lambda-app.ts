import type { Hono } from 'hono';
import { handle, streamHandle, type LambdaContext, type LambdaEvent } from 'hono/aws-lambda';
import { createApp } from '../../src/app.ts';
import { ConfigError, loadConfig, type Config, type Env } from '../../src/config.ts';
import { sharpRenderer } from '../../src/renderers/sharp-renderer.ts';
import type { ImageSource } from '../../src/source.ts';
import { withDiskCache } from '../../src/sources/disk-cache.ts';
import { fsSource } from '../../src/sources/fs-source.ts';
import { createS3Client } from '../../src/sources/s3-client.ts';
import { s3Source } from '../../src/sources/s3-source.ts';
import { guardBufferedPayload } from './payload-guard.ts';

const log = (line: string) => console.warn(line);

/** S3 in production; a folder (IIIF_SOURCE=fs, IIIF_ROOT) for local trials of the bundle. */
function sourceFor(config: Config): ImageSource {
  switch (config.IIIF_SOURCE) {
    case 's3': {
      if (!config.IIIF_S3_BUCKET) throw new ConfigError('invalid configuration: IIIF_S3_BUCKET is required');
      const s3 = s3Source({
        bucket: config.IIIF_S3_BUCKET,
        prefix: config.IIIF_S3_PREFIX,
        keyTemplate: config.IIIF_S3_KEY_TEMPLATE,
        client: createS3Client(config),
        timeoutMs: config.IIIF_SOURCE_TIMEOUT_MS,
        log,
      });
      // Opt-in (IIIF_CACHE_DIR, e.g. /tmp/iiif): whole objects that a render needs stay on local disk.
      return config.IIIF_CACHE_DIR
        ? withDiskCache(s3, { dir: config.IIIF_CACHE_DIR, maxBytes: config.IIIF_CACHE_MAX_BYTES })
        : s3;
    }
    case 'fs':
      if (!config.IIIF_ROOT) throw new ConfigError('invalid configuration: IIIF_ROOT is required when IIIF_SOURCE is fs');
      return fsSource({ root: config.IIIF_ROOT });
    default:
      throw new ConfigError(`invalid configuration: IIIF_SOURCE=${config.IIIF_SOURCE} is not available on Lambda (use s3 or fs)`);
  }
}

export interface LambdaApp {
  app: Hono;
  config: Config;
}

export function createLambdaApp(env: Env): LambdaApp {
  const config = loadConfig(env);
  const app = createApp({
    config,
    source: sourceFor(config),
    renderer: sharpRenderer({
      jpegQuality: config.IIIF_JPEG_QUALITY,
      maxInputPixels: config.IIIF_MAX_INPUT_PIXELS,
      density: config.IIIF_DENSITY,
    }),
  });
  return { app, config };
}

/**
 * Both invoke modes of a Function URL: `handler` (BUFFERED, 6 MB responses)
 * and `streamHandler` (RESPONSE_STREAM). streamHandle needs the runtime's
 * `awslambda` global, present on Lambda and polyfilled by lambda-local.
 */
export function createHandlers(env: Env) {
  const { app, config } = createLambdaApp(env);
  const buffered = handle(app);
  return {
    handler: async (event: LambdaEvent, context?: LambdaContext) =>
      guardBufferedPayload(await buffered(event, context), config),
    streamHandler: streamHandle(app),
  };
}
