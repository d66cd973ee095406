import { S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../config.ts';

export type S3ClientSettings = Pick<Config, 'IIIF_S3_REGION' | 'IIIF_S3_ENDPOINT' | 'IIIF_S3_FORCE_PATH_STYLE'>;

/**
 * One client per process (adapters call this at start-up), with the default
 * credential chain: the Lambda role, env keys or a profile.
 */
export function createS3Client(settings: S3ClientSettings): S3Client {
  return new S3Client({
    ...(settings.IIIF_S3_REGION ? { region: settings.IIIF_S3_REGION } : {}),
    ...(settings.IIIF_S3_ENDPOINT ? { endpoint: settings.IIIF_S3_ENDPOINT } : {}),
    forcePathStyle: settings.IIIF_S3_FORCE_PATH_STYLE,
    // We only read, mostly ranges (which carry no checksum anyway); S3-compatible
    // stores such as s3rver mishandle the checksum defaults.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}
