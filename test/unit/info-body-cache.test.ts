import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { ENTRY_OVERHEAD } from '../../src/http/response-cache.ts';
import { noMetrics } from '../../src/metrics.ts';
import { fsSource } from '../../src/sources/fs-source.ts';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'iiif-edge-info-cache-'));
  await writeFile(join(root, 'a.png'), await sharp({ create: { width: 300, height: 200, channels: 3, background: '#123' } }).png().toBuffer());
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('info.json body cache', () => {
  it('counts what keeping an entry costs, so a crawl with a new Host per request stays within its 8 MiB', async () => {
    const lookups: boolean[] = [];
    const app = createApp({
      config: loadConfig({ IIIF_ROOT: root }),
      source: fsSource({ root }),
      metrics: { ...noMetrics, cacheLookup: (cache, hit) => void (cache === 'info' && lookups.push(hit)) },
    });
    const get = async (i: number) => {
      const res = await app.request(`http://h${i}.example.org/iiif/3/a.png/info.json`);
      return (await res.arrayBuffer()).byteLength;
    };
    const size = await get(0);
    // Bodies alone (under 1 KB each) would keep all of these in 8 MiB; with their keeping cost, far fewer.
    const kept = Math.floor((8 * 1024 * 1024) / (size + ENTRY_OVERHEAD));
    const crawl = Math.ceil(kept * 1.2);
    expect(crawl * size).toBeLessThan(8 * 1024 * 1024);
    for (let i = 1; i <= crawl; i++) await get(i);
    lookups.length = 0;
    await get(0);
    await get(crawl);
    // The first host's body was evicted, the last one's kept.
    expect(lookups).toEqual([false, true]);
  }, 60_000);
});
