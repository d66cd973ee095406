import { readFileSync } from 'node:fs';
import { Miniflare } from 'miniflare';
import { bundleWorker } from '../../adapters/workers/build.ts';
import type { R2BucketLike } from '../../src/sources/r2-source.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

/** Tests run with the compatibility date that `wrangler deploy` uses. */
export const COMPATIBILITY_DATE = /^compatibility_date\s*=\s*"([\d-]+)"/m.exec(
  readFileSync(`${ROOT}wrangler.toml`, 'utf8'),
)?.[1];

let bundle: Promise<string> | undefined;

/** Miniflare types its R2 proxy with @cloudflare/workers-types, which we do not install. */
interface ProxyBucket extends R2BucketLike {
  put(key: string, value: ArrayBuffer): Promise<unknown>;
}

export interface RunningWorker {
  url: string;
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** The emulated R2 bucket, reachable from Node through Miniflare's proxy. */
  bucket: R2BucketLike;
  /** Writes an object into the emulated R2 bucket. */
  put(key: string, bytes: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/** The bundled Worker in workerd (via Miniflare) on 127.0.0.1, with an R2 bucket holding `objects`. */
export async function startWorker(vars: Record<string, string>, objects: Record<string, Uint8Array>): Promise<RunningWorker> {
  bundle ??= bundleWorker().then((b) => b.code);
  const mf = new Miniflare({
    modules: true,
    script: await bundle,
    compatibilityDate: COMPATIBILITY_DATE,
    r2Buckets: ['IMAGES'],
    bindings: vars,
    host: '127.0.0.1',
    port: 0,
  });
  const url = (await mf.ready).origin;
  const bucket = (await mf.getR2Bucket('IMAGES')) as unknown as ProxyBucket;
  const put = async (key: string, bytes: Uint8Array) => {
    // A copy: Miniflare's proxy cannot serialise Node Buffers that share a pool.
    await bucket.put(key, new Uint8Array(bytes).buffer);
  };
  for (const [key, bytes] of Object.entries(objects)) await put(key, bytes);
  return {
    url,
    bucket,
    fetch: (path, init) => fetch(`${url}${path}`, { redirect: 'manual', ...init }),
    put,
    close: () => mf.dispose(),
  };
}
