import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleWorker } from '../../adapters/workers/build.ts';
import { IIIF_CASES } from '../cases/iiif-cases.ts';
import { checkCase, runCases } from '../cases/run-cases.ts';
import { makeFixtures } from '../fixtures/images.ts';
import { startRenderOrigin, type RenderOrigin } from '../helpers/workerd-origin.ts';
import { startWorker, type RunningWorker } from '../helpers/workerd.ts';

const PUBLIC = 'https://iiif.example.org';
let fixtures: Record<string, Uint8Array>;
let origin: RenderOrigin;
let forwarding: RunningWorker;
let infoOnly: RunningWorker;

beforeAll(async () => {
  fixtures = await makeFixtures();
  origin = await startRenderOrigin(fixtures);
  [forwarding, infoOnly] = await Promise.all([
    startWorker({ IIIF_PUBLIC_BASE_URL: PUBLIC, IIIF_RENDER_ORIGIN: origin.url }, fixtures),
    startWorker({ IIIF_PUBLIC_BASE_URL: PUBLIC }, fixtures),
  ]);
});

afterAll(async () => {
  await Promise.all([forwarding?.close(), infoOnly?.close()]);
  await origin?.close();
});

describe('Workers adapter with a render origin: shared IIIF cases in workerd', () => {
  runCases((path, init) => forwarding.fetch(path, init), IIIF_CASES);
});

describe('Workers adapter without a render origin', () => {
  runCases(
    (path, init) => infoOnly.fetch(path, init),
    IIIF_CASES.filter((c) => !c.render).map((c) => ({ ...c, ...c.storedOnly })),
  );

  it('answers a pixel request with 501 and says why', async () => {
    const pixelCase = IIIF_CASES.find((c) => c.render && c.path.endsWith('/full/max/0/default.png'));
    expect(pixelCase).toBeDefined();
    const res = await infoOnly.fetch(pixelCase?.path ?? '');
    expect(res.status).toBe(501);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(await res.json()).toMatchObject({ status: 501, error: 'not_implemented', message: /render/ });
  });

  it('answers HEAD and conditional requests for pixels it cannot make as GET does: 501', async () => {
    const path = '/iiif/3/grid.png/full/max/0/default.jpg';
    expect((await infoOnly.fetch(path, { method: 'HEAD' })).status).toBe(501);
    expect((await infoOnly.fetch(path, { headers: { 'if-none-match': '*' } })).status).toBe(501);
    // A stored tile it can pass through still answers HEAD and 304.
    const tile = '/iiif/3/pyramid.tif/0,0,256,256/256,/0/default.jpg';
    const head = await infoOnly.fetch(tile, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect((await infoOnly.fetch(tile, { headers: { 'if-none-match': head.headers.get('etag') ?? '' } })).status).toBe(304);
  });
});

describe('Workers adapter without a render origin: info.json at level 0', () => {
  interface Info3 {
    profile: string;
    width: number;
    height: number;
    sizes?: Array<{ width: number; height: number }>;
    tiles?: Array<{ width: number; height: number; scaleFactors: number[] }>;
    extraFeatures?: unknown;
    extraFormats?: unknown;
  }
  const info = async (worker: RunningWorker, id: string) => (await (await worker.fetch(`/iiif/3/${id}/info.json`)).json()) as Info3;
  const passedThrough = async (path: string) => {
    const res = await infoOnly.fetch(path);
    await res.arrayBuffer();
    return { status: res.status, path: res.headers.get('server-timing')?.match(/path;desc="(\w+)"/)?.[1], link: res.headers.get('link') };
  };

  it('offers only the sizes and tiles that stored tiles answer, and every one it offers is passed through', async () => {
    const full = await info(forwarding, 'pyramid.tif');
    const stored = await info(infoOnly, 'pyramid.tif');
    expect(full.profile).toBe('level2');
    expect(stored).toMatchObject({ profile: 'level0', width: 2000, height: 1500 });
    expect(stored.extraFeatures).toBeUndefined();
    expect(stored.extraFormats).toBeUndefined();
    // Of the levels 2000, 1000, 500 and 250 px wide, only the last is one 256-px tile.
    expect(full.sizes?.length).toBe(4);
    expect(stored.sizes).toEqual([{ width: 250, height: 187 }]);
    expect(stored.tiles).toEqual(full.tiles);
    for (const s of stored.sizes ?? []) {
      expect(await passedThrough(`/iiif/3/pyramid.tif/full/${s.width},${s.height}/0/default.jpg`)).toMatchObject({ status: 200, path: 'passthrough' });
    }
    for (const t of stored.tiles ?? []) {
      for (const f of t.scaleFactors) {
        const [w, h] = [t.width * f, t.height * f];
        // The first tile and the last (bottom-right, cut from its stored tile) of each factor.
        const [x, y] = [Math.floor((stored.width - 1) / w) * w, Math.floor((stored.height - 1) / h) * h];
        // A viewer's regions stop at the image's edge; sizes are ceil(region / factor).
        const region = (rx: number, ry: number) => {
          const [rw, rh] = [Math.min(w, stored.width - rx), Math.min(h, stored.height - ry)];
          return `${rx},${ry},${rw},${rh}/${Math.ceil(rw / f)},`;
        };
        for (const path of [region(0, 0), region(x, y)]) {
          const res = await passedThrough(`/iiif/3/pyramid.tif/${path}/0/default.jpg`);
          expect(res, path).toMatchObject({ status: 200, path: 'passthrough' });
          expect(res.link).toContain('<http://iiif.io/api/image/3/level0.json>;rel="profile"');
        }
      }
    }
  });

  it('offers no sizes or tiles of an image no stored JPEG tile answers (a PNG, an LZW pyramid, a JPEG 2000)', async () => {
    for (const id of ['grid.png', 'pyramid-lzw.tif', 'grid.jp2']) {
      const stored = await info(infoOnly, id);
      expect(stored.profile, id).toBe('level0');
      expect(stored.sizes, id).toBeUndefined();
      expect(stored.tiles, id).toBeUndefined();
    }
  });

  it('says level 0 in the 2.1 profile too, with JPEG as its one format', async () => {
    const v2 = (await (await infoOnly.fetch('/iiif/2/pyramid.tif/info.json')).json()) as { profile: [string, { formats: string[]; supports?: unknown }] };
    expect(v2.profile[0]).toBe('http://iiif.io/api/image/2/level0.json');
    expect(v2.profile[1].formats).toEqual(['jpg']);
    expect(v2.profile[1].supports).toBeUndefined();
  });
});

describe('Workers adapter: stored JPEG tiles of tiled TIFFs in R2 (core fast path)', () => {
  const ALIGNED = IIIF_CASES.filter((c) => /^\/iiif\/3\/pyramid\.tif\/\d+,\d+,\d+,\d+\/\d+,\/0\/default\.jpg$/.test(c.path));
  const passedThrough = (res: Response) => res.headers.get('server-timing')?.includes('path;desc="passthrough"');

  it('finds the aligned tile cases in the shared list', () => {
    expect(ALIGNED.map((c) => c.name)).toEqual(['pyramid tile at scale 1', 'pyramid edge tile at scale 1', 'pyramid edge tile at scale 4']);
  });

  for (const tile of ALIGNED) {
    it(`serves ${tile.name} itself, without a render origin`, async () => {
      await checkCase((path, init) => infoOnly.fetch(path, init), tile);
      expect(passedThrough(await infoOnly.fetch(tile.path))).toBe(true);
    });
  }

  it('returns the same JPEG bytes as the Node adapter for the same tile URL', async () => {
    for (const tile of ALIGNED) {
      const fromWorker = new Uint8Array(await (await infoOnly.fetch(tile.path)).arrayBuffer());
      const fromNode = new Uint8Array(await (await fetch(`${origin.url}${tile.path}`)).arrayBuffer());
      expect(fromWorker.length).toBeGreaterThan(0);
      expect(Buffer.from(fromWorker).equals(Buffer.from(fromNode)), tile.path).toBe(true);
    }
  });

  it('never forwards an aligned tile to the render origin', async () => {
    const before = origin.requests.length;
    for (const tile of ALIGNED) expect(passedThrough(await forwarding.fetch(tile.path))).toBe(true);
    expect(origin.requests.length).toBe(before);
  });

  it('answers 501 for an unaligned region of the same TIFF without a render origin', async () => {
    const res = await infoOnly.fetch('/iiif/3/pyramid.tif/100,100,256,256/256,/0/default.jpg');
    expect(res.status).toBe(501);
  });
});

describe('Workers adapter: URLs, identifiers and headers', () => {
  it('builds info.json ids from the configured public base URL, not the loopback host', async () => {
    const info = (await (await forwarding.fetch('/iiif/3/nested%2Fgrid.png/info.json')).json()) as { id: string };
    expect(info.id).toBe(`${PUBLIC}/iiif/3/nested%2Fgrid.png`);
    const info2 = (await (await forwarding.fetch('/iiif/2/grid.png/info.json')).json()) as Record<string, unknown>;
    expect(info2['@id']).toBe(`${PUBLIC}/iiif/2/grid.png`);
  });

  it('redirects the base URI to info.json under the public base URL', async () => {
    const res = await forwarding.fetch('/iiif/3/nested%2Fgrid.png');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`${PUBLIC}/iiif/3/nested%2Fgrid.png/info.json`);
  });

  it('sends the canonical Link with the public base and the encoded identifier', async () => {
    const res = await forwarding.fetch('/iiif/3/nested%2Fgrid.png/pct:0,0,100,100/150,/0/default.jpg', { method: 'HEAD' });
    expect(res.headers.get('link')).toContain(`<${PUBLIC}/iiif/3/nested%2Fgrid.png/full/150,100/0/default.jpg>;rel="canonical"`);
  });

  it('answers info.json with caching headers, ETag and 304', async () => {
    const res = await forwarding.fetch('/iiif/3/grid.png/info.json');
    expect(res.headers.get('cache-control')).toBe('public, max-age=86400');
    expect(res.headers.get('last-modified')).toMatch(/GMT$/);
    const etag = res.headers.get('etag') ?? '';
    expect(etag).toMatch(/^"/);
    const again = await forwarding.fetch('/iiif/3/grid.png/info.json', { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
  });

  it('serves the health check and the version ping', async () => {
    expect(await (await forwarding.fetch('/health')).json()).toEqual({ status: 'ok' });
    expect(await (await forwarding.fetch('/iiif/3')).json()).toEqual({ status: 'ok', version: 3 });
  });
});

describe('Workers adapter: configuration', () => {
  it('answers 500 without details when the R2 binding is missing', async () => {
    const broken = await startWorker({ IIIF_R2_BINDING: 'NOT_BOUND' }, {});
    try {
      const res = await broken.fetch('/iiif/3/grid.png/info.json');
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ status: 500, error: 'internal', message: 'the server is misconfigured' });
    } finally {
      await broken.close();
    }
  });

  it('serves keys through IIIF_S3_PREFIX and IIIF_S3_KEY_TEMPLATE', async () => {
    const grid = fixtures['grid.png'] ?? new Uint8Array();
    const prefixed = await startWorker(
      { IIIF_PUBLIC_BASE_URL: PUBLIC, IIIF_S3_PREFIX: 'masters/', IIIF_S3_KEY_TEMPLATE: '%s.png' },
      { 'masters/grid.png': grid, 'masters/a/b.png': grid },
    );
    try {
      await checkCase((p, i) => prefixed.fetch(p, i), { name: 'template', path: '/iiif/3/grid/info.json', status: 200, json: { width: 300 } });
      await checkCase((p, i) => prefixed.fetch(p, i), { name: 'template %2F', path: '/iiif/3/a%2Fb/info.json', status: 200, json: { height: 200 } });
      await checkCase((p, i) => prefixed.fetch(p, i), { name: 'no template match', path: '/iiif/3/grid.png/info.json', status: 404 });
    } finally {
      await prefixed.close();
    }
  });
});

describe('Workers bundle', () => {
  it('holds no Node built-ins, sharp or AWS SDK and stays far below 1 MB gzip', async () => {
    const { code, inputs } = await bundleWorker(true);
    expect(inputs.filter((p) => /node_modules\/(sharp|@aws-sdk|@img)\/|^node:/.test(p))).toEqual([]);
    expect(code).not.toMatch(/from\s*["']node:|require\(["']node:/);
    expect(gzipSync(code).length).toBeLessThan(256 * 1024);
  });
});
