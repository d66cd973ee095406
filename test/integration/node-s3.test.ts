import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe } from 'vitest';
import { startServer, type RunningServer } from '../../adapters/node/server.ts';
import { IIIF_CASES } from '../cases/iiif-cases.ts';
import { runCases } from '../cases/run-cases.ts';
import { makeFixtures } from '../fixtures/images.ts';
import { s3rverClient, startS3rver, uploadAll, type LocalS3, useS3rverCredentials } from '../helpers/s3rver.ts';

let s3: LocalS3;
let admin: S3Client;
let server: RunningServer;

beforeAll(async () => {
  useS3rverCredentials();
  s3 = await startS3rver(['images']);
  admin = s3rverClient(s3.endpoint);
  await uploadAll(admin, 'images', await makeFixtures());
  // The same settings a Lambda deployment uses: moving hosts is configuration only.
  server = await startServer({
    PORT: '0',
    IIIF_S3_BUCKET: 'images',
    IIIF_S3_ENDPOINT: s3.endpoint,
    IIIF_S3_FORCE_PATH_STYLE: 'true',
    IIIF_S3_REGION: 'us-east-1',
  });
});

afterAll(async () => {
  await server?.close();
  admin?.destroy();
  await s3?.close();
});

describe('Node adapter on the S3 source: shared IIIF cases', () => {
  runCases((path, init) => fetch(`${server.url}${path}`, init), IIIF_CASES);
});
