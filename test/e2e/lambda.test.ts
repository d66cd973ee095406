// First: lambda-local's `awslambda` streaming polyfill must exist before the AWS SDK claims that global.
import { bufferedFetcher, FUNCTION_DOMAIN, s3rverLambdaEnv, streamingFetcher } from '../helpers/lambda-events.ts';
import type { S3Client } from '@aws-sdk/client-s3';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandlers } from '../../adapters/lambda/lambda-app.ts';
import { IIIF_CASES } from '../cases/iiif-cases.ts';
import { runCases, type Fetcher } from '../cases/run-cases.ts';
import { makeFixtures } from '../fixtures/images.ts';
import { s3rverClient, startS3rver, uploadAll, type LocalS3, useS3rverCredentials } from '../helpers/s3rver.ts';

let s3: LocalS3;
let admin: S3Client;
let handlers: ReturnType<typeof createHandlers>;
let cached: ReturnType<typeof createHandlers>;
let cacheDir: string;
let folder: string;
let local: ReturnType<typeof createHandlers>;

beforeAll(async () => {
  useS3rverCredentials();
  s3 = await startS3rver(['images']);
  admin = s3rverClient(s3.endpoint);
  await uploadAll(admin, 'images', await makeFixtures());
  handlers = createHandlers(s3rverLambdaEnv(s3.endpoint));
  cacheDir = await mkdtemp(join(tmpdir(), 'iiif-edge-lambda-cache-'));
  cached = createHandlers(s3rverLambdaEnv(s3.endpoint, 'images', { IIIF_CACHE_DIR: cacheDir }));
  // A local folder (fs source): info.json and stored tiles are answered without Hono (adapters/lambda/direct-event.ts).
  folder = await mkdtemp(join(tmpdir(), 'iiif-edge-lambda-fs-'));
  for (const [name, bytes] of Object.entries(await makeFixtures())) {
    await mkdir(dirname(join(folder, name)), { recursive: true });
    await writeFile(join(folder, name), bytes);
  }
  local = createHandlers({ IIIF_SOURCE: 'fs', IIIF_ROOT: folder, IIIF_LOG_LEVEL: 'silent' });
});

afterAll(async () => {
  admin?.destroy();
  await s3?.close();
  if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
  if (folder) await rm(folder, { recursive: true, force: true });
});

const buffered: Fetcher = (path, init) => bufferedFetcher(handlers.handler)(path, init);
const streamed: Fetcher = (path, init) => streamingFetcher(handlers.streamHandler)(path, init);

describe('Lambda adapter, buffered (index.handler): shared IIIF cases over S3', () => {
  runCases(buffered, IIIF_CASES);
});

describe('Lambda adapter, response streaming (index.streamHandler): shared IIIF cases over S3', () => {
  runCases(streamed, IIIF_CASES);
});

describe('Lambda adapter with a local folder (fs source), buffered and streaming: shared IIIF cases', () => {
  runCases((path, init) => bufferedFetcher(local.handler)(path, init), IIIF_CASES);
  runCases((path, init) => streamingFetcher(local.streamHandler)(path, init), IIIF_CASES);
});

describe('Lambda adapter, buffered with a /tmp object cache (IIIF_CACHE_DIR): shared IIIF cases', () => {
  runCases((path, init) => bufferedFetcher(cached.handler)(path, init), IIIF_CASES);
  it('kept the rendered objects on disk', async () => {
    expect((await readdir(cacheDir)).length).toBeGreaterThan(0);
  });
});

describe('Lambda entry module', () => {
  it('builds its app from process.env once and serves info.json with the Function URL host', async () => {
    Object.assign(process.env, s3rverLambdaEnv(s3.endpoint));
    const entry = await import('../../adapters/lambda/handler.ts');
    for (const fetcher of [bufferedFetcher(entry.handler), streamingFetcher(entry.streamHandler)]) {
      const res = await fetcher('/iiif/3/nested%2Fgrid.png/info.json', {});
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ id: `https://${FUNCTION_DOMAIN}/iiif/3/nested%2Fgrid.png` });
    }
  });
});
