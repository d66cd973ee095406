import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isHttpError, type HttpError } from '../../src/errors.ts';
import { createS3Client } from '../../src/sources/s3-client.ts';
import { s3Source } from '../../src/sources/s3-source.ts';
import { useS3rverCredentials } from '../helpers/s3rver.ts';

/** What the fake store answers, chosen per test; the real SDK parses and classifies it. `stall` sends headers and a first chunk, then nothing. */
let reply: { status: number; code: string; stall?: boolean } = { status: 500, code: 'InternalError' };
let server: Server;
let endpoint: string;

beforeAll(async () => {
  useS3rverCredentials();
  server = createServer((req, res) => {
    req.resume();
    // The bucket itself exists (HeadBucket: no key in the path, asked after a HeadObject 404).
    if (req.method === 'HEAD' && !/^\/bucket-secret\/./.test(req.url ?? '')) return void res.writeHead(200).end();
    if (reply.stall) {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': '1000', etag: '"e"' });
      res.write(Buffer.alloc(10));
      return;
    }
    const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${reply.code}</Code><Message>about bucket-secret/key-secret</Message><Resource>/bucket-secret/key-secret</Resource><RequestId>R1</RequestId></Error>`;
    res.writeHead(reply.status, { 'content-type': 'application/xml', 'x-amz-request-id': 'R1' });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(
  () =>
    new Promise<void>((ok) => {
      server.closeAllConnections();
      server.close(() => ok());
    }),
);

async function failure(op: 'stat' | 'read'): Promise<HttpError> {
  const lines: string[] = [];
  const client = createS3Client({ IIIF_S3_REGION: 'us-east-1', IIIF_S3_ENDPOINT: endpoint, IIIF_S3_FORCE_PATH_STYLE: true });
  const source = s3Source({ bucket: 'bucket-secret', client, timeoutMs: 20_000, log: (line) => lines.push(line) });
  const error = await (op === 'stat' ? source.stat('key-secret') : source.read('key-secret', { offset: 0, length: 10 })).catch((e: unknown) => e);
  client.destroy();
  if (!isHttpError(error)) throw new Error(`expected an HttpError, got ${String(error)}`);
  expect(error.message).not.toMatch(/secret/);
  expect(lines.join('\n')).not.toMatch(/secret/);
  if (error.status >= 500) expect(lines.join('\n')).toMatch(/^s3 (HeadObject|GetObject) failed name=/);
  return error;
}

describe('S3 error mapping with the real SDK', () => {
  it.each([
    [404, 'NoSuchKey', 404, 'not_found'],
    [403, 'AccessDenied', 403, 'forbidden'],
    [404, 'NoSuchBucket', 502, 'upstream_error'],
    [500, 'InternalError', 502, 'upstream_error'],
    [400, 'AuthorizationHeaderMalformed', 502, 'upstream_error'],
  ] as const)('GetObject %i %s → %i %s', async (status, code, want, wantCode) => {
    reply = { status, code };
    const error = await failure('read');
    expect([error.status, error.code]).toEqual([want, wantCode]);
  });

  it.each([
    [404, 404, 'not_found'],
    [403, 403, 'forbidden'],
  ] as const)('HeadObject %i (no body) → %i %s', async (status, want, wantCode) => {
    reply = { status, code: '' };
    const error = await failure('stat');
    expect([error.status, error.code]).toEqual([want, wantCode]);
  });

  it('maps throttling (SlowDown) and unavailability to 503 with Retry-After, after the SDK retried', async () => {
    for (const code of ['SlowDown', 'ServiceUnavailable']) {
      reply = { status: 503, code };
      const error = await failure('read');
      expect([error.status, error.code]).toEqual([503, 'upstream_unavailable']);
      expect(error.headers['Retry-After']).toMatch(/^\d+$/);
    }
  });

  it('times out a body that stalls after the headers: 504 within the deadline', async () => {
    reply = { status: 200, code: '', stall: true };
    const client = createS3Client({ IIIF_S3_REGION: 'us-east-1', IIIF_S3_ENDPOINT: endpoint, IIIF_S3_FORCE_PATH_STYLE: true });
    const source = s3Source({ bucket: 'b', client, timeoutMs: 300 });
    const started = performance.now();
    const error = await source.read('k').catch((e: unknown) => e);
    expect(isHttpError(error) && [error.status, error.code]).toEqual([504, 'upstream_timeout']);
    expect(performance.now() - started).toBeLessThan(1500);
    client.destroy();
  });

  it('maps a refused connection to 502 upstream_error', async () => {
    const client = createS3Client({ IIIF_S3_REGION: 'us-east-1', IIIF_S3_ENDPOINT: 'http://127.0.0.1:1', IIIF_S3_FORCE_PATH_STYLE: true });
    const source = s3Source({ bucket: 'b', client, timeoutMs: 10_000 });
    const error = await source.stat('k').catch((e: unknown) => e);
    expect(isHttpError(error) && [error.status, error.code]).toEqual([502, 'upstream_error']);
    client.destroy();
  });
});
