import { createServer } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeFixtures } from '../fixtures/images.ts';
import { startRenderOrigin, type RenderOrigin } from '../helpers/workerd-origin.ts';
import { startWorker, type RunningWorker } from '../helpers/workerd.ts';

let fixtures: Record<string, Uint8Array>;
let origin: RenderOrigin;
let worker: RunningWorker;

const bytes = async (res: Response) => new Uint8Array(await res.arrayBuffer());
const countOf = (path: string) => origin.requests.filter((p) => p === path).length;

beforeAll(async () => {
  fixtures = await makeFixtures();
  const objects = { ...fixtures, 'replaced.jpg': fixtures['grid.jpg'] ?? new Uint8Array() };
  origin = await startRenderOrigin(objects);
  worker = await startWorker(
    { IIIF_PUBLIC_BASE_URL: 'https://iiif.example.org', IIIF_RENDER_ORIGIN: origin.url, IIIF_RENDER_TIMEOUT_MS: '500' },
    objects,
  );
});

beforeEach(() => {
  origin.mode = 'pass';
});

afterAll(async () => {
  await worker?.close();
  await origin?.close();
});

describe('forwarding renderer: canonical URLs and the Cache API', () => {
  it('forwards the canonical URL and answers an equivalent request from the cache', async () => {
    const canonical = '/iiif/3/grid.jpg/full/max/0/default.webp';
    const first = await worker.fetch('/iiif/3/grid.jpg/full/300,200/0/default.webp');
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe('image/webp');
    expect(first.headers.get('set-cookie')).toBeNull();
    const body = await bytes(first);
    expect(countOf(canonical)).toBe(1);

    const before = origin.requests.length;
    const second = await worker.fetch('/iiif/3/grid.jpg/pct:0,0,100,100/max/0/default.webp');
    expect(second.status).toBe(200);
    expect(second.headers.get('set-cookie')).toBeNull();
    expect(await bytes(second)).toEqual(body);
    expect(origin.requests.length).toBe(before);
  });

  it('keeps %2F encoded and uses the 2.1 canonical form', async () => {
    const res = await worker.fetch('/iiif/2/nested%2Fgrid.png/0,0,300,200/300,200/0/default.jpg');
    expect(res.status).toBe(200);
    expect(origin.requests.at(-1)).toBe('/iiif/2/nested%2Fgrid.png/full/full/0/default.jpg');
  });

  it('answers HEAD and If-None-Match without reaching the origin', async () => {
    const path = '/iiif/3/grid.jpg/full/120,/0/default.png';
    const before = origin.requests.length;
    const head = await worker.fetch(path, { method: 'HEAD' });
    expect(head.status).toBe(200);
    const cond = await worker.fetch(path, { headers: { 'if-none-match': head.headers.get('etag') ?? '' } });
    expect(cond.status).toBe(304);
    expect(origin.requests.length).toBe(before);
  });

  it('renders again when the R2 object is replaced, though the canonical URL is the same', async () => {
    const path = '/iiif/3/replaced.jpg/full/max/0/default.jpg';
    expect((await worker.fetch(path)).status).toBe(200);
    expect((await worker.fetch(path)).status).toBe(200);
    expect(countOf(path)).toBe(1);
    await worker.put('replaced.jpg', fixtures['grid.png'] ?? new Uint8Array());
    expect((await worker.fetch(path)).status).toBe(200);
    expect(countOf(path)).toBe(2);
  });
});

describe('forwarding renderer: origin failures', () => {
  const failures: [string, RenderOrigin['mode'], number][] = [
    ['busy', { status: 503 }, 503],
    ['rate limited', { status: 429 }, 503],
    ['failing', { status: 500 }, 502],
    ['missing the image', { status: 404 }, 502],
    ['answering with a login page', 'html', 502],
    ['hanging past the timeout', 'hang', 504],
  ];
  failures.forEach(([what, mode, status], i) => {
    it(`maps an origin ${what} to ${status}, uncached and without origin details`, async () => {
      const path = `/iiif/3/grid.png/full/${101 + i},/0/default.jpg`;
      origin.mode = mode;
      const res = await worker.fetch(path);
      expect(res.status).toBe(status);
      expect(res.headers.get('cache-control')).toBe('no-store');
      if (status === 503) expect(res.headers.get('retry-after')).toBe('1');
      const text = await res.text();
      expect(text).not.toMatch(/127\.0\.0\.1|set-cookie|login/i);
      origin.mode = 'pass';
      expect((await worker.fetch(path)).status).toBe(200);
    });
  });

  it('maps an unreachable origin to 502', async () => {
    const port = await new Promise<number>((ok) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const address = probe.address();
        probe.close(() => ok(typeof address === 'object' && address ? address.port : 0));
      });
    });
    const offline = await startWorker({ IIIF_RENDER_ORIGIN: `http://127.0.0.1:${port}` }, fixtures);
    try {
      const res = await offline.fetch('/iiif/3/grid.png/full/max/0/default.png');
      expect(res.status).toBe(502);
      expect(await res.json()).toEqual({ status: 502, error: 'upstream_error', message: 'the render origin could not be reached' });
    } finally {
      await offline.close();
    }
  });
});
