import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';

describe('S3 settings', () => {
  it('keeps serverless-iiif defaults for a deployment configured by its names', () => {
    const config = loadConfig({ sourceBucket: 'images' });
    expect(config).toMatchObject({ IIIF_SOURCE: 's3', IIIF_S3_BUCKET: 'images', IIIF_S3_KEY_TEMPLATE: '%s.tif' });
    expect(loadConfig({ tiffBucket: 'old' })).toMatchObject({ IIIF_S3_BUCKET: 'old', IIIF_S3_KEY_TEMPLATE: '%s.tif' });
    expect(loadConfig({ sourceBucket: 'images', resolverTemplate: '%s' }).IIIF_S3_KEY_TEMPLATE).toBe('%s');
    expect(loadConfig({ sourceBucket: 'images', IIIF_S3_KEY_TEMPLATE: '%s.jp2' }).IIIF_S3_KEY_TEMPLATE).toBe('%s.jp2');
  });

  it('uses our own defaults with our own names', () => {
    expect(loadConfig({ IIIF_S3_BUCKET: 'images' })).toMatchObject({ IIIF_SOURCE: 's3', IIIF_S3_KEY_TEMPLATE: '%s', IIIF_S3_PREFIX: '' });
    expect(loadConfig({ IIIF_S3_BUCKET: 'images', sourceBucket: 'other' }).IIIF_S3_KEY_TEMPLATE).toBe('%s');
  });

  it('lets an explicit IIIF_SOURCE win over a bucket, and defaults to fs without one', () => {
    expect(loadConfig({ IIIF_S3_BUCKET: 'images', IIIF_SOURCE: 'fs' }).IIIF_SOURCE).toBe('fs');
    expect(loadConfig({}).IIIF_SOURCE).toBe('fs');
    expect(loadConfig({ IIIF_S3_BUCKET: '' }).IIIF_SOURCE).toBe('fs');
  });

  it('refuses a template without %s and an S3 source without a bucket', () => {
    expect(() => loadConfig({ IIIF_S3_BUCKET: 'images', IIIF_S3_KEY_TEMPLATE: 'fixed.tif' })).toThrow(/IIIF_S3_KEY_TEMPLATE/);
    expect(() => loadConfig({ IIIF_SOURCE: 's3' })).toThrow(ConfigError);
  });
});
