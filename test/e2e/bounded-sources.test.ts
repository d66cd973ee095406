import { link, mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { loadConfig, type Env } from '../../src/config.ts';
import { sharpRenderer } from '../../src/renderers/sharp-renderer.ts';
import { httpError } from '../../src/errors.ts';
import { withDiskCache } from '../../src/sources/disk-cache.ts';
import { fsSource } from '../../src/sources/fs-source.ts';
import { sourceFromConfig } from '../../src/sources/from-config.ts';
import { s3Source } from '../../src/sources/s3-source.ts';
import type { ImageSource } from '../../src/sources/source.ts';
import { makeFixtures } from '../fixtures/images.ts';
import { r2Source } from '../../src/sources/r2-source.ts';
import { isSourceChanged } from '../../src/sources/source.ts';
import { putObject, s3rverClient, startS3rver, useS3rverCredentials } from '../helpers/s3rver.ts';
import { startWorker } from '../helpers/workerd.ts';

let base: string;
let root: string;
let outside: string;
const red = () => sharp({ create: { width: 64, height: 48, channels: 3, background: '#ff0000' } }).png().toBuffer();
const blue = () => sharp({ create: { width: 80, height: 60, channels: 3, background: '#0000ff' } }).png().toBuffer();

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'iiif-edge-bounded-'));
  root = join(base, 'root');
  outside = join(base, 'outside');
  await mkdir(root);
  await mkdir(outside);
});
afterAll(() => rm(base, { recursive: true, force: true }));

function build(env: Env = {}) {
  const config = loadConfig({ IIIF_ROOT: root, ...env });
  const renderer = sharpRenderer({ jpegQuality: 85, maxInputPixels: 1e8 });
  return createApp({ config, source: sourceFromConfig(config, () => undefined), renderer });
}

const openFds = () => readdirSync('/proc/self/fd').length;

async function pixel(res: Response): Promise<number[]> {
  const { data } = await sharp(Buffer.from(await res.arrayBuffer())).raw().toBuffer({ resolveWithObject: true });
  return [...data.subarray(0, 3)];
}

describe('11.3 file descriptors stay bounded whatever the URLs', () => {
  it('30,000 distinct identifiers: open descriptors never exceed IIIF_FS_MAX_OPEN_FILES, no 503', async () => {
    const dir = join(root, 'many');
    await mkdir(dir);
    await writeFile(join(dir, 'seed.png'), await red());
    const COUNT = 30_000;
    for (let i = 0; i < COUNT; i += 500) {
      await Promise.all(Array.from({ length: Math.min(500, COUNT - i) }, (_, k) => link(join(dir, 'seed.png'), join(dir, `${i + k}.png`))));
    }
    const BOUND = 64;
    const app = build({ IIIF_FS_MAX_OPEN_FILES: String(BOUND) });
    const before = openFds();
    let peak = before;
    const statuses = new Map<number, number>();
    let next = 0;
    // 64 clients in parallel, each walking through its share of the identifiers.
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < COUNT) {
          const i = next++;
          const res = await app.request(`/iiif/3/many%2F${i}.png/info.json`);
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          await res.arrayBuffer();
          if (i % 200 === 0) peak = Math.max(peak, openFds());
        }
      }),
    );
    peak = Math.max(peak, openFds());
    expect(Object.fromEntries(statuses)).toEqual({ 200: COUNT });
    // A few descriptors of the test runner itself may come and go meanwhile.
    expect(peak - before).toBeLessThanOrEqual(BOUND + 8);
    await rm(dir, { recursive: true, force: true });
  }, 120_000);
});

describe('11.3 file handles under a tight bound', () => {
  it('with one descriptor allowed, 40 parallel reads of 20 files all complete with never more than one open', async () => {
    const dir = join(root, 'tight');
    await mkdir(dir);
    const png = await red();
    await Promise.all(Array.from({ length: 20 }, (_, i) => writeFile(join(dir, `${i}.png`), png)));
    const source = fsSource({ root: dir, maxOpenFiles: 1 });
    const before = openFds();
    const reads = await Promise.all(
      Array.from({ length: 40 }, (_, i) => source.read(`${i % 20}.png`, { offset: 0, length: 8 })),
    );
    expect(reads.every((bytes) => bytes[1] === 0x50 && bytes.length === 8)).toBe(true);
    expect(openFds() - before).toBeLessThanOrEqual(1);
    await rm(dir, { recursive: true, force: true });
  });
});

describe('11.5 symbolic links cannot leave the root', () => {
  beforeAll(async () => {
    await writeFile(join(outside, 'secret.png'), await red());
    await writeFile(join(root, 'inside.png'), await red());
    await writeFile(join(root, '..png'), await red());
    await symlink(join(outside, 'secret.png'), join(root, 'link.png'));
    await symlink(outside, join(root, 'dir'));
    await symlink('/etc/passwd', join(root, 'passwd.png'));
    await symlink('/proc/self/environ', join(root, 'environ.png'));
    await symlink(join(root, 'inside.png'), join(root, 'alias.png'));
  });

  it('refuses links that lead outside the real root with 404, by default', async () => {
    const app = build();
    for (const id of ['link.png', 'dir%2Fsecret.png', 'passwd.png', 'environ.png']) {
      for (const path of [`/iiif/3/${id}/info.json`, `/iiif/3/${id}/full/max/0/default.png`]) {
        const res = await app.request(path);
        expect(res.status, path).toBe(404);
        expect(await res.json()).toMatchObject({ error: 'not_found' });
      }
    }
  });

  it('serves links that stay inside the root, and a file named ..png', async () => {
    const app = build();
    for (const id of ['alias.png', '..png', 'inside.png']) {
      const res = await app.request(`/iiif/3/${id}/full/max/0/default.png`);
      expect(res.status, id).toBe(200);
      expect(await pixel(res)).toEqual([255, 0, 0]);
    }
  });

  it('IIIF_FS_FOLLOW_LINKS=true follows links out of the root', async () => {
    const app = build({ IIIF_FS_FOLLOW_LINKS: 'true' });
    expect((await app.request('/iiif/3/link.png/info.json')).status).toBe(200);
    expect((await app.request('/iiif/3/dir%2Fsecret.png/info.json')).status).toBe(200);
  });
});

describe('11.10 a file replaced while its stat is trusted', () => {
  const RENDER = '/iiif/3/swap.png/full/max/0/default.png';

  for (const how of ['in place', 'by rename'] as const) {
    it(`replaced ${how} within IIIF_FS_STAT_TTL_MS: never new pixels under the old ETag, never a 500`, async () => {
      await writeFile(join(root, 'swap.png'), await red());
      const app = build({ IIIF_FS_STAT_TTL_MS: '60000' });
      const first = await app.request(RENDER);
      expect(first.status).toBe(200);
      expect(await pixel(first)).toEqual([255, 0, 0]);
      const oldEtag = first.headers.get('etag');

      if (how === 'in place') await writeFile(join(root, 'swap.png'), await blue());
      else {
        await writeFile(join(root, 'swap.tmp'), await blue());
        await rename(join(root, 'swap.tmp'), join(root, 'swap.png'));
      }
      const after = await app.request(RENDER);
      expect([200, 503]).toContain(after.status);
      if (after.status === 200) {
        const colour = await pixel(after);
        if (after.headers.get('etag') === oldEtag) expect(colour).toEqual([255, 0, 0]);
        else expect(colour).toEqual([0, 0, 255]);
        // Tried again after the change: the timings of the answer's own attempt, once.
        const timing = after.headers.get('server-timing') ?? '';
        expect(timing.match(/(?:^|,)source;/g), timing).toHaveLength(1);
      }
      const info = await app.request('/iiif/3/swap.png/info.json');
      expect(((await info.json()) as { width: number }).width).toBe(80);
      await rm(join(root, 'swap.png'));
    });
  }
});

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((ok, fail) => {
    const timer = setTimeout(ok, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      fail(httpError(502, 'upstream_error', 'the storage request was cancelled'));
    });
  });

/** A remote-like store: every read takes `delayMs` and is cancelled by the caller's signal, as S3's are. */
function slowSource(inner: ImageSource, delayMs: number): ImageSource {
  return {
    ...inner,
    local: false,
    async read(identifier, range, signal, etag) {
      await sleep(delayMs, signal);
      return inner.read(identifier, range, signal, etag);
    },
  };
}

describe('11.4 one client hanging up never fails another', () => {
  it('client A aborts while the shared tile-table read runs; client B (sibling tile) still gets its tile', async () => {
    await writeFile(join(root, 'pyramid.tif'), (await makeFixtures())['pyramid.tif'] ?? Buffer.alloc(0));
    const config = loadConfig({ IIIF_ROOT: root });
    const app = createApp({ config, source: slowSource(fsSource({ root }), 400), renderer: sharpRenderer({ jpegQuality: 85, maxInputPixels: 1e8 }) });
    // Geometry first, so the tiles' first shared read is the level's tile table.
    expect((await app.request('/iiif/3/pyramid.tif/info.json')).status).toBe(200);
    const hangUp = new AbortController();
    const a = app.request('/iiif/3/pyramid.tif/0,0,256,256/256,/0/default.jpg', { signal: hangUp.signal });
    await sleep(100);
    const b = app.request('/iiif/3/pyramid.tif/256,0,256,256/256,/0/default.jpg');
    await sleep(100);
    hangUp.abort();
    await Promise.resolve(a).catch(() => undefined);
    const res = await b;
    expect(res.status).toBe(200);
    const { info } = await sharp(Buffer.from(await res.arrayBuffer())).toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([256, 256]);
  });
});

describe('11.4 the disk-cache download is shared, and so outlives a client that leaves', () => {
  it('client A aborts while the whole object downloads; client B, waiting for the same download, gets the file', async () => {
    await writeFile(join(root, 'whole.png'), await red());
    const cacheDir = join(base, 'cache');
    const source = withDiskCache(slowSource(fsSource({ root }), 400), { dir: cacheDir, maxBytes: 64 * 1024 * 1024 });
    const object = await source.stat('whole.png');
    const hangUp = new AbortController();
    const a = source.localFile?.('whole.png', object, hangUp.signal);
    await sleep(100);
    const b = source.localFile?.('whole.png', object);
    hangUp.abort();
    await a?.catch(() => undefined);
    const file = await b;
    expect(file).toBeDefined();
    expect((await sharp(file).metadata()).width).toBe(64);
  });
});

describe('11.10 an S3 object replaced between HeadObject and the reads', () => {
  it('renders and stored tiles never come back with the new bytes under the old ETag, nor as a 500', async () => {
    useS3rverCredentials();
    const s3 = await startS3rver(['images']);
    const client = s3rverClient(s3.endpoint);
    try {
      const fixtures = await makeFixtures();
      const other = await sharp({ create: { width: 1000, height: 700, channels: 3, background: '#0000ff' } })
        .tiff({ tile: true, tileWidth: 256, tileHeight: 256, pyramid: true, compression: 'jpeg', quality: 90 })
        .toBuffer();
      const cases = [
        { key: 'flat.png', a: await red(), b: await blue(), path: '/iiif/3/flat.png/full/max/0/default.png' },
        { key: 'pyr.tif', a: fixtures['pyramid.tif'] ?? Buffer.alloc(0), b: other, path: '/iiif/3/pyr.tif/0,0,256,256/256,/0/default.jpg' },
      ];
      // The store's content changes right after the first HeadObject of a request, before its reads.
      let swap: { key: string; body: Buffer } | undefined;
      client.middlewareStack.add(
        (next, context) => async (args) => {
          const result = await next(args);
          if (context.commandName === 'HeadObjectCommand' && swap) {
            const { key, body } = swap;
            swap = undefined;
            await putObject(s3rverClient(s3.endpoint), 'images', key, body);
          }
          return result;
        },
        { step: 'initialize', name: 'swapAfterHead' },
      );
      const config = loadConfig({ IIIF_SOURCE: 's3', IIIF_S3_BUCKET: 'images' });
      const source = s3Source({ bucket: 'images', client, timeoutMs: 10_000 });
      for (const { key, a, b, path } of cases) {
        await putObject(client, 'images', key, a);
        const app = createApp({ config, source, renderer: sharpRenderer({ jpegQuality: 85, maxInputPixels: 1e8 }) });
        swap = { key, body: b };
        const res = await app.request(path);
        expect([200, 503], key).toContain(res.status);
        // What the store holds now, served by a fresh app: the ETag and pixels the answer must match.
        const now = await createApp({ config, source, renderer: sharpRenderer({ jpegQuality: 85, maxInputPixels: 1e8 }) }).request(path);
        expect(now.status).toBe(200);
        if (res.status === 200) {
          expect(res.headers.get('etag'), key).toBe(now.headers.get('etag'));
          expect(await pixel(res)).toEqual(await pixel(now));
        }
      }
    } finally {
      client.destroy();
      await s3.close();
    }
  });
});

describe('11.10 an R2 object replaced between head and get', () => {
  it('a read with the ETag stat saw is refused once the object changed (onlyIf), and succeeds with the new one', async () => {
    const worker = await startWorker({}, { 'k.bin': new TextEncoder().encode('version A') });
    try {
      const source = r2Source({ bucket: worker.bucket, timeoutMs: 5000 });
      const a = await source.stat('k.bin');
      expect(new TextDecoder().decode(await source.read('k.bin', { offset: 0, length: 9 }, undefined, a.etag))).toBe('version A');
      await worker.put('k.bin', new TextEncoder().encode('version B!'));
      const stale = await source.read('k.bin', { offset: 0, length: 9 }, undefined, a.etag).then(
        (bytes) => new TextDecoder().decode(bytes),
        (e: unknown) => e,
      );
      expect(isSourceChanged(stale)).toBe(true);
      const b = await source.stat('k.bin');
      expect(new TextDecoder().decode(await source.read('k.bin', undefined, undefined, b.etag))).toBe('version B!');
    } finally {
      await worker.close();
    }
  });
});
