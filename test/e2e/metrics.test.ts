import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promMetrics } from '../../adapters/node/metrics.ts';
import { startServer, type RunningServer } from '../../adapters/node/server.ts';
import { createRenderSlots } from '../../src/http/concurrency.ts';
import { makeFixtures } from '../fixtures/images.ts';
import { s3rverClient, startS3rver, uploadAll, useS3rverCredentials } from '../helpers/s3rver.ts';

let root: string;
let server: RunningServer;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'iiif-edge-metrics-'));
  const fixtures = await makeFixtures();
  await writeFile(join(root, 'grid.jpg'), fixtures['grid.jpg']!);
  await writeFile(join(root, 'pyramid.tif'), fixtures['pyramid.tif']!);
  server = await startServer({ IIIF_ROOT: root, PORT: '0', HOST: '127.0.0.1', IIIF_METRICS_PORT: '0' });
});

afterAll(async () => {
  await server?.close();
  await rm(root, { recursive: true, force: true });
});

/** One sample of a Prometheus text scrape: `name{labels} value`, labels in any order. */
function sample(scrape: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of scrape.split('\n')) {
    const match = /^([a-z_:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(match[3]);
  }
  return undefined;
}

const scrape = async () => {
  const res = await fetch(server.metricsUrl!);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return res.text();
};

describe('Prometheus metrics on their own port (IIIF_METRICS_PORT)', () => {
  it('counts requests by route, status and served-by, with latency histograms and cache hit ratios', async () => {
    expect(server.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(new URL(server.metricsUrl!).port).not.toBe(new URL(server.url).port);

    for (let i = 0; i < 2; i++) expect((await fetch(`${server.url}/iiif/3/grid.jpg/info.json`)).status).toBe(200);
    const render = await fetch(`${server.url}/iiif/3/grid.jpg/full/90,/0/default.png`);
    expect((await sharp(new Uint8Array(await render.arrayBuffer())).metadata()).width).toBe(90);
    const tile = await fetch(`${server.url}/iiif/3/pyramid.tif/0,0,256,256/256,/0/default.jpg`);
    expect((await sharp(new Uint8Array(await tile.arrayBuffer())).metadata()).width).toBe(256);
    expect((await fetch(`${server.url}/iiif/3/missing.jpg/info.json`)).status).toBe(404);

    const text = await scrape();
    expect(sample(text, 'iiif_requests_total', { route: 'info', status: '200', served_by: 'info' })).toBe(2);
    expect(sample(text, 'iiif_requests_total', { route: 'image', status: '200', served_by: 'render' })).toBe(1);
    expect(sample(text, 'iiif_requests_total', { route: 'image', status: '200', served_by: 'passthrough' })).toBe(1);
    expect(sample(text, 'iiif_requests_total', { route: 'info', status: '404', served_by: 'not_found' })).toBe(1);
    expect(sample(text, 'iiif_request_duration_seconds_count', { route: 'image', served_by: 'render' })).toBe(1);
    expect(sample(text, 'iiif_request_duration_seconds_sum', { route: 'image', served_by: 'render' })).toBeGreaterThan(0);
    expect(sample(text, 'iiif_request_duration_seconds_bucket', { route: 'info', served_by: 'info', le: '+Inf' })).toBe(2);
    expect(sample(text, 'iiif_render_duration_seconds_count')).toBe(1);
    expect(sample(text, 'iiif_response_bytes_total', { route: 'image' })).toBeGreaterThan(0);
    // The first info.json body is built, the second comes from the cache.
    expect(sample(text, 'iiif_cache_lookups_total', { cache: 'info', result: 'miss' })).toBe(1);
    expect(sample(text, 'iiif_cache_lookups_total', { cache: 'info', result: 'hit' })).toBe(1);
    expect(sample(text, 'iiif_cache_hit_ratio', { cache: 'info' })).toBe(0.5);
    expect(sample(text, 'iiif_cache_hit_ratio', { cache: 'geometry' })).toBeGreaterThan(0);
    expect(sample(text, 'iiif_render_queue_depth')).toBe(0);
    expect(sample(text, 'iiif_render_slots_busy')).toBe(0);
    expect(sample(text, 'process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024);
    expect(sample(text, 'process_open_fds')).toBeGreaterThan(3);
  });

  it('render time excludes the wait for a render slot, which Server-Timing reports as queue', async () => {
    const noise = await sharp({ create: { width: 2000, height: 1500, channels: 3, background: '#888', noise: { type: 'gaussian', mean: 128, sigma: 50 } } }).png().toBuffer();
    await writeFile(join(root, 'noise.png'), noise);
    const one = await startServer({ IIIF_ROOT: root, PORT: '0', HOST: '127.0.0.1', IIIF_MAX_CONCURRENT_RENDERS: '1', IIIF_RESPONSE_CACHE_BYTES: '0', IIIF_METRICS_PORT: '0' });
    try {
      const started = performance.now();
      const timings = await Promise.all(
        [0, 1, 2, 3].map(async (i) => {
          const res = await fetch(`${one.url}/iiif/3/noise.png/full/${1200 + i},/0/default.webp`);
          await res.arrayBuffer();
          expect(res.status).toBe(200);
          return res.headers.get('server-timing') ?? '';
        }),
      );
      const wall = performance.now() - started;
      const dur = (timing: string, name: string) => Number(new RegExp(`(?:^|,)${name};dur=([\\d.]+)`).exec(timing)?.[1] ?? 0);
      // One slot: renders run one after another, so their render times add up to at most the wall time.
      const renders = timings.reduce((sum, t) => sum + dur(t, 'render'), 0);
      expect(renders, timings.join('\n')).toBeLessThan(wall);
      // Three of the four waited, each at least the first render's time.
      expect(timings.filter((t) => dur(t, 'queue') > 0).length, timings.join('\n')).toBeGreaterThanOrEqual(3);
      const histogram = sample(await (await fetch(one.metricsUrl!)).text(), 'iiif_render_duration_seconds_sum');
      expect((histogram ?? Infinity) * 1000).toBeLessThan(wall);
    } finally {
      await one.close();
    }
  });

  it('counts no body bytes for HEAD answers, errors included', async () => {
    const bytes = async () => sample(await scrape(), 'iiif_response_bytes_total', { route: 'info' }) ?? 0;
    await fetch(`${server.url}/iiif/3/grid.jpg/info.json`);
    const before = await bytes();
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${server.url}/iiif/3/missing-${i}.jpg/info.json`, { method: 'HEAD' });
      expect(res.status).toBe(404);
      expect((await res.arrayBuffer()).byteLength).toBe(0);
    }
    expect(await bytes()).toBe(before);
  });

  it('is not served on the image port, and only /metrics on its own', async () => {
    expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
    expect((await fetch(new URL('/other', server.metricsUrl!))).status).toBe(404);
    // Prometheus `params:` in a scrape config add a query string.
    expect((await fetch(`${server.metricsUrl!}?module=iiif`)).status).toBe(200);
  });

  it('is off unless IIIF_METRICS_PORT is set', async () => {
    const plain = await startServer({ IIIF_ROOT: root, PORT: '0', HOST: '127.0.0.1' });
    try {
      expect(plain.metricsUrl).toBeUndefined();
    } finally {
      await plain.close();
    }
  });
});

describe('disk cache of remote sources (IIIF_CACHE_DIR)', () => {
  it('counts its hits and misses', async () => {
    useS3rverCredentials();
    const s3 = await startS3rver(['images']);
    const admin = s3rverClient(s3.endpoint);
    const cacheDir = await mkdtemp(join(tmpdir(), 'iiif-edge-metrics-disk-'));
    let remote: RunningServer | undefined;
    try {
      const fixtures = await makeFixtures();
      await uploadAll(admin, 'images', { 'grid.png': fixtures['grid.png']! });
      remote = await startServer({
        PORT: '0',
        IIIF_METRICS_PORT: '0',
        IIIF_S3_BUCKET: 'images',
        IIIF_S3_ENDPOINT: s3.endpoint,
        IIIF_S3_FORCE_PATH_STYLE: 'true',
        IIIF_S3_REGION: 'us-east-1',
        IIIF_CACHE_DIR: cacheDir,
      });
      // Two different renders of one untiled image: the first downloads it, the second finds it on disk.
      for (const width of [60, 70]) {
        const res = await fetch(`${remote.url}/iiif/3/grid.png/full/${width},/0/default.png`);
        expect((await sharp(new Uint8Array(await res.arrayBuffer())).metadata()).width).toBe(width);
      }
      const text = await (await fetch(remote.metricsUrl!)).text();
      expect(sample(text, 'iiif_cache_lookups_total', { cache: 'disk', result: 'miss' })).toBe(1);
      expect(sample(text, 'iiif_cache_lookups_total', { cache: 'disk', result: 'hit' })).toBe(1);
      expect(sample(text, 'iiif_cache_hit_ratio', { cache: 'disk' })).toBe(0.5);
    } finally {
      await remote?.close();
      admin.destroy();
      await s3.close();
      await rm(cacheDir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('render queue depth', () => {
  it('follows the render slots: busy and queued as renders start, wait and end', async () => {
    const { metrics, registry } = promMetrics();
    const slots = createRenderSlots({ maxConcurrent: 1, maxQueued: 5, queueTimeoutMs: 5_000, onChange: metrics.renderSlots });
    const gauges = async () => {
      const text = await registry.metrics();
      return [sample(text, 'iiif_render_slots_busy'), sample(text, 'iiif_render_queue_depth')];
    };
    const finishers: Array<() => void> = [];
    const work = () => new Promise<void>((ok) => finishers.push(ok));
    const runs = [slots.run(undefined, work), slots.run(undefined, work), slots.run(undefined, work)];
    await new Promise((ok) => setTimeout(ok, 10));
    expect(await gauges()).toEqual([1, 2]);
    const finishNext = async () => {
      finishers.shift()!();
      await new Promise((ok) => setTimeout(ok, 10));
      return gauges();
    };
    expect(await finishNext()).toEqual([1, 1]);
    expect(await finishNext()).toEqual([1, 0]);
    await finishNext();
    await Promise.all(runs);
    expect(await gauges()).toEqual([0, 0]);
  });
});
