import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isHttpError } from '../../src/errors.ts';
import type { ImageSource } from '../../src/sources/source.ts';
import { r2Source, type R2BucketLike } from '../../src/sources/r2-source.ts';
import { startWorker, type RunningWorker } from '../helpers/workerd.ts';

const DATA = new TextEncoder().encode('0123456789');
let worker: RunningWorker;
let source: ImageSource;

/** The HttpError a call fails with, so tests can check status, headers and the (safe) message. */
async function failure(call: () => Promise<unknown>) {
  const e: unknown = await call().then(() => undefined, (err: unknown) => err);
  if (!isHttpError(e)) throw new Error(`expected an HttpError, got ${String(e)}`);
  return e;
}

beforeAll(async () => {
  worker = await startWorker({}, { 'images/a/b.bin': DATA });
  source = r2Source({ bucket: worker.bucket, prefix: 'images/', keyTemplate: '%s.bin', timeoutMs: 5000 });
});

afterAll(async () => {
  await worker?.close();
});

describe('R2 source against the emulated bucket', () => {
  it('stats with the HTTP ETag, size and upload time', async () => {
    const object = await source.stat('a/b');
    expect(object.etag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(object.size).toBe(10);
    expect(object.lastModified).toBeInstanceOf(Date);
  });

  it('reads whole objects and ranges, short at the end and empty past it', async () => {
    const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
    expect(text(await source.read('a/b'))).toBe('0123456789');
    expect(text(await source.read('a/b', { offset: 2, length: 3 }))).toBe('234');
    expect(text(await source.read('a/b', { offset: 8, length: 10 }))).toBe('89');
    expect((await source.read('a/b', { offset: 20, length: 5 })).length).toBe(0);
    expect((await source.read('a/b', { offset: 0, length: 0 })).length).toBe(0);
  });

  it('answers 404 for unknown identifiers and keys R2 cannot hold, without naming the key', async () => {
    for (const id of ['a/missing', 'x'.repeat(1100)]) {
      const e = await failure(() => source.stat(id));
      expect(e.status).toBe(404);
      expect(e.message).not.toMatch(/images\/|\.bin/);
    }
    expect((await failure(() => source.read('a/missing'))).status).toBe(404);
  });
});

describe('R2 source failures', () => {
  const failing = (message: string): R2BucketLike => ({
    head: () => Promise.reject(new Error(message)),
    get: () => Promise.reject(new Error(message)),
  });

  it('maps internal errors to 502 without the key or the R2 message', async () => {
    const broken = r2Source({ bucket: failing('head images/secret.tif: internal error (10001)'), timeoutMs: 1000 });
    const e = await failure(() => broken.stat('secret.tif'));
    expect([e.status, e.code, e.message]).toEqual([502, 'upstream_error', 'storage failed to read the image']);
    expect((await failure(() => broken.read('secret.tif'))).status).toBe(502);
  });

  it('maps rate limiting to 503 with Retry-After', async () => {
    const busy = r2Source({ bucket: failing('get: Reduce your rate of requests (10058)'), timeoutMs: 1000 });
    const e = await failure(() => busy.read('a', { offset: 0, length: 4 }));
    expect(e.status).toBe(503);
    expect(e.headers['Retry-After']).toBe('1');
  });

  it('gives up after the timeout with 504', async () => {
    const never = new Promise<never>(() => {});
    const stuck = r2Source({ bucket: { head: () => never, get: () => never }, timeoutMs: 50 });
    expect((await failure(() => stuck.stat('a'))).status).toBe(504);
  });
});
