// First: lambda-local's `awslambda` streaming polyfill must exist before the AWS SDK claims that global.
import { bufferedFetcher, s3rverLambdaEnv, streamingFetcher } from '../helpers/lambda-events.ts';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createHandlers } from '../../adapters/lambda/lambda-app.ts';
import type { Fetcher } from '../cases/run-cases.ts';
import { makeFixtures } from '../fixtures/images.ts';
import { s3rverClient, startS3rver, startSlowProxy, uploadAll, useS3rverCredentials, type LocalS3, type SlowProxy } from '../helpers/s3rver.ts';

const BUCKET = 'private-bucket-faults';
const TIMEOUT_MS = 800;
/** Event loop and test overhead allowed on top of the configured deadline. */
const SLACK_MS = 1500;

let s3: LocalS3;
let admin: S3Client;
let proxy: SlowProxy | undefined;

beforeAll(async () => {
  useS3rverCredentials();
  s3 = await startS3rver([BUCKET]);
  admin = s3rverClient(s3.endpoint);
  await uploadAll(admin, BUCKET, await makeFixtures());
});

afterEach(async () => {
  vi.restoreAllMocks();
  await proxy?.close();
  proxy = undefined;
});

afterAll(async () => {
  admin?.destroy();
  await s3?.close();
});

function fetchers(endpoint: string): Record<'buffered' | 'streamed', Fetcher> {
  const handlers = createHandlers(s3rverLambdaEnv(endpoint, BUCKET, { IIIF_SOURCE_TIMEOUT_MS: String(TIMEOUT_MS) }));
  return { buffered: bufferedFetcher(handlers.handler), streamed: streamingFetcher(handlers.streamHandler) };
}

async function timed(fetcher: Fetcher, path: string): Promise<{ res: Response; ms: number; body: { status: number; error: string; message: string } }> {
  const started = performance.now();
  const res = await fetcher(path, {});
  const ms = performance.now() - started;
  return { res, ms, body: (await res.json()) as { status: number; error: string; message: string } };
}

function expectSafeUpstreamError(res: Response, body: { status: number; error: string; message: string }): void {
  expect([502, 503, 504]).toContain(res.status);
  expect(body.status).toBe(res.status);
  expect(body.error).toMatch(/^upstream_/);
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(res.headers.get('access-control-allow-origin')).toBe('*');
  for (const secret of [BUCKET, '127.0.0.1', 'grid.png']) expect(body.message).not.toContain(secret);
}

describe.each(['buffered', 'streamed'] as const)('store faults through the Lambda adapter (%s)', (mode) => {
  it('answers 5xx within the timeout while the store is down, and recovers when it is back', async () => {
    // The Lambda logger (Powertools) writes JSON lines to the process streams.
    const out = [vi.spyOn(process.stdout, 'write'), vi.spyOn(process.stderr, 'write')].map((spy) =>
      spy.mockImplementation(() => true),
    );
    const fetcher = fetchers(s3.endpoint)[mode];
    expect((await fetcher('/iiif/3/grid.png/info.json', {})).status).toBe(200);

    await s3.stop();
    try {
      for (const path of ['/iiif/3/grid.png/info.json', '/iiif/3/grid.jpg/full/50,/0/default.jpg']) {
        const { res, ms, body } = await timed(fetcher, path);
        expectSafeUpstreamError(res, body);
        expect(ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
      }
    } finally {
      await s3.start();
    }
    expect((await fetcher('/iiif/3/grid.png/info.json', {})).status).toBe(200);
    expect((await fetcher('/iiif/3/grid.jpg/full/50,/0/default.jpg', {})).status).toBe(200);

    const logged = out.flatMap((spy) => spy.mock.calls.map((args) => String(args[0]))).join('\n');
    // lambda-local mutes the process streams while it runs a streamed handler: the buffered run
    // checks the log lines of the same app.
    if (mode === 'streamed') return;
    const lines = logged.split('\n').filter((line) => line.includes('s3 HeadObject failed'));
    // The storage fault's own lines name no bucket, key or credentials; the request lines carry the
    // same words as their cause, next to the request's path.
    const storageLines = lines.filter((line) => !line.includes('"message":"request"'));
    expect(storageLines.length).toBeGreaterThan(0);
    expect(lines.length).toBeGreaterThan(storageLines.length);
    for (const secret of [BUCKET, 'grid.png', 'S3RVER']) expect(storageLines.join('\n')).not.toContain(secret);
    for (const secret of [BUCKET, 'S3RVER']) expect(lines.join('\n')).not.toContain(secret);
  });

  it('answers 504 upstream_timeout after IIIF_SOURCE_TIMEOUT_MS when the store hangs', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    proxy = await startSlowProxy(s3.port, 30_000);
    const fetcher = fetchers(proxy.endpoint)[mode];
    for (const path of ['/iiif/3/grid.png/info.json', '/iiif/3/grid.png/full/50,/0/default.png']) {
      const { res, ms, body } = await timed(fetcher, path);
      expect(res.status).toBe(504);
      expect(body.error).toBe('upstream_timeout');
      expectSafeUpstreamError(res, body);
      expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
      expect(ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    }
  });
});
