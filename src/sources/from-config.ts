import { ConfigError, type Config } from '../config.ts';
import type { Metrics } from '../metrics.ts';
import type { ImageSource } from './source.ts';
import { withDiskCache } from './disk-cache.ts';
import { fsSource } from './fs-source.ts';
import { deferredSource } from './deferred-source.ts';

/** The source the settings name, for the Node and Lambda adapters: moving between them is configuration. */
export function sourceFromConfig(config: Config, log: (line: string) => void, metrics?: Metrics): ImageSource {
  switch (config.IIIF_SOURCE) {
    case 's3': {
      if (!config.IIIF_S3_BUCKET) throw new ConfigError('invalid configuration: IIIF_S3_BUCKET is required');
      const bucket = config.IIIF_S3_BUCKET;
      // The AWS SDK takes a few hundred ms to import: only S3 deployments load it, in the background.
      const s3 = deferredSource('s3', async () => {
        const [{ s3Source }, { createS3Client }] = await Promise.all([import('./s3-source.ts'), import('./s3-client.ts')]);
        return s3Source({
          bucket,
          prefix: config.IIIF_S3_PREFIX,
          keyTemplate: config.IIIF_S3_KEY_TEMPLATE,
          client: createS3Client(config),
          timeoutMs: config.IIIF_SOURCE_TIMEOUT_MS,
          log,
        });
      });
      // Opt-in (IIIF_CACHE_DIR): whole objects that a render needs stay on local disk.
      return config.IIIF_CACHE_DIR
        ? withDiskCache(s3, {
            dir: config.IIIF_CACHE_DIR,
            maxBytes: config.IIIF_CACHE_MAX_BYTES,
            onLookup: (hit) => metrics?.cacheLookup('disk', hit),
            warn: log,
          })
        : s3;
    }
    case 'fs':
      if (!config.IIIF_ROOT) throw new ConfigError('invalid configuration: IIIF_ROOT is required when IIIF_SOURCE is fs');
      return fsSource({
        root: config.IIIF_ROOT,
        statTtlMs: config.IIIF_FS_STAT_TTL_MS,
        maxOpenFiles: config.IIIF_FS_MAX_OPEN_FILES,
        followLinks: config.IIIF_FS_FOLLOW_LINKS,
        inlineReads: config.IIIF_FS_INLINE_READS,
      });
    default:
      throw new ConfigError(`invalid configuration: IIIF_SOURCE=${config.IIIF_SOURCE} needs the Workers adapter (use fs or s3 here)`);
  }
}
