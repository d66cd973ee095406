import { createServer } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeFixtures } from '../fixtures/images.ts';
import { startRenderOrigin, type RenderOrigin } from '../helpers/workerd-origin.ts';
import { startWorker, type RunningWorker } from '../helpers/workerd.ts';

let fixtures: Record<string, Uint8Array>;
let origin: RenderOrigin;
let worker: RunningWorker;
/** What replaces `replaced.jpg` and `lagging.jpg` (both start as grid.jpg). */
let replacement: Uint8Array;

const bytes = async (res: Response) => new Uint8Array(await res.arrayBuffer());
const countOf = (path: string) => origin.requests.filter((p) => p === path).length;

beforeAll(async () => {
  fixtures = await makeFixtures();
  replacement = fixtures['grid.png'] ?? new Uint8Array();
  const objects = { ...fixtures, 'replaced.jpg': fixtures['grid.jpg'] ?? new Uint8Array(), 'lagging.jpg': fixtures['grid.jpg'] ?? new Uint8Array() };
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

  it('answers HEAD and If-None-Match of a cached render without reaching the origin', async () => {
    const path = '/iiif/3/grid.jpg/full/120,/0/default.png';
    expect((await worker.fetch(path)).status).toBe(200);
    const before = origin.requests.length;
    const head = await worker.fetch(path, { method: 'HEAD' });
    expect(head.status).toBe(200);
    const cond = await worker.fetch(path, { headers: { 'if-none-match': head.headers.get('etag') ?? '' } });
    expect(cond.status).toBe(304);
    expect(origin.requests.length).toBe(before);
  });

  it('answers HEAD of a render not cached yet with the status a GET gets, asking the origin for a HEAD', async () => {
    const path = '/iiif/3/grid.jpg/full/121,/0/default.png';
    const before = origin.requests.length;
    expect((await worker.fetch(path, { method: 'HEAD' })).status).toBe(200);
    expect(origin.requests.length).toBe(before + 1);
    origin.mode = { status: 400, body: '{"status":400,"error":"over_limit","message":"the image would decode to too many bytes"}' };
    const refused = '/iiif/3/grid.jpg/full/122,/0/default.png';
    expect((await worker.fetch(refused, { method: 'HEAD' })).status).toBe(400);
    expect((await worker.fetch(refused)).status).toBe(400);
  });

  it('renders again when the R2 object is replaced, though the canonical URL is the same', async () => {
    const path = '/iiif/3/replaced.jpg/full/max/0/default.jpg';
    const before = await worker.fetch(path);
    expect(before.status).toBe(200);
    const old = await bytes(before);
    expect((await worker.fetch(path)).status).toBe(200);
    expect(countOf(path)).toBe(1);
    await Promise.all([worker.put('replaced.jpg', replacement), origin.put('replaced.jpg', replacement)]);
    const after = await worker.fetch(path);
    expect(after.status).toBe(200);
    expect(after.headers.get('etag')).not.toBe(before.headers.get('etag'));
    expect(await bytes(after)).not.toEqual(old);
    expect(countOf(path)).toBe(2);
    // The new render is kept: the next request does not reach the origin.
    expect((await worker.fetch(path)).status).toBe(200);
    expect(countOf(path)).toBe(2);
  });

  it('neither keeps nor labels as the new version a render from an origin still on the replaced image', async () => {
    const path = '/iiif/3/lagging.jpg/full/max/0/default.jpg';
    const first = await worker.fetch(path);
    const old = await bytes(first);
    expect(first.headers.get('etag')).toMatch(/^"/);
    // Replaced in R2, but the origin still reads the old object.
    await worker.put('lagging.jpg', replacement);
    for (const attempt of [2, 3]) {
      const res = await worker.fetch(path);
      expect(res.status).toBe(200);
      expect(await bytes(res)).toEqual(old);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('etag')).toBeNull();
      expect(res.headers.get('last-modified')).toBeNull();
      expect(countOf(path)).toBe(attempt);
    }
    // HEAD and a conditional GET say what the GET says: not this version, nothing to keep or revalidate.
    const head = await worker.fetch(path, { method: 'HEAD' });
    expect([head.status, head.headers.get('cache-control'), head.headers.get('etag')]).toEqual([200, 'no-store', null]);
    const conditional = await worker.fetch(path, { headers: { 'if-none-match': first.headers.get('etag') ?? '' } });
    expect([conditional.status, conditional.headers.get('cache-control'), conditional.headers.get('etag')]).toEqual([200, 'no-store', null]);
    expect(await bytes(conditional)).toEqual(old);
    const asked = countOf(path);
    // Once the origin has it, the new render is labelled and kept.
    await origin.put('lagging.jpg', replacement);
    const caughtUp = await worker.fetch(path);
    expect(caughtUp.headers.get('etag')).toMatch(/^"/);
    expect(caughtUp.headers.get('etag')).not.toBe(first.headers.get('etag'));
    expect(await bytes(caughtUp)).not.toEqual(old);
    expect((await worker.fetch(path)).status).toBe(200);
    expect(countOf(path)).toBe(asked + 1);
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

  it('passes on an origin refusal of the request or the source (400, 422) with its reason', async () => {
    const refusals = [
      { status: 422, error: 'unsupported_source', message: 'the source image could not be decoded' },
      { status: 400, error: 'over_limit', message: 'the image would decode to too many bytes' },
    ];
    for (const [i, refusal] of refusals.entries()) {
      origin.mode = { status: refusal.status, body: JSON.stringify(refusal) };
      const res = await worker.fetch(`/iiif/3/grid.png/full/${131 + i},/0/default.jpg`);
      expect(res.status).toBe(refusal.status);
      expect(await res.json()).toEqual(refusal);
    }
    // Not one of our refusals (a proxy's page): the status, with a reason of our own.
    origin.mode = { status: 422, body: '<html>nope</html>' };
    const other = await worker.fetch('/iiif/3/grid.png/full/133,/0/default.jpg');
    expect(other.status).toBe(422);
    expect(await other.json()).toEqual({ status: 422, error: 'unsupported_source', message: 'the render origin refused this image request' });
  });

  it('refuses an origin answer larger than IIIF_FORWARD_MAX_BYTES, with or without a Content-Length', async () => {
    const capped = await startWorker({ IIIF_RENDER_ORIGIN: origin.url, IIIF_FORWARD_MAX_BYTES: '65536' }, fixtures);
    try {
      for (const [i, chunked] of [false, true].entries()) {
        origin.mode = { image: 1024 * 1024, chunked };
        const res = await capped.fetch(`/iiif/3/grid.png/full/${141 + i},/0/default.jpg`);
        expect(res.status).toBe(502);
        expect((await res.json()) as unknown).toMatchObject({ error: 'upstream_error', message: expect.stringContaining('IIIF_FORWARD_MAX_BYTES (65536 bytes)') });
      }
      origin.mode = { image: 65536 };
      expect((await capped.fetch('/iiif/3/grid.png/full/143,/0/default.jpg')).status).toBe(200);
    } finally {
      await capped.close();
    }
  });

  it('keeps the render deadline while the answer streams', async () => {
    origin.mode = 'trickle';
    const started = Date.now();
    const res = await worker.fetch('/iiif/3/grid.png/full/151,/0/default.jpg');
    expect(res.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('answers 504 for a hung origin when the render and request timeouts are equal (the defaults are)', async () => {
    const equal = await startWorker({ IIIF_RENDER_ORIGIN: origin.url, IIIF_RENDER_TIMEOUT_MS: '1000', IIIF_REQUEST_TIMEOUT_MS: '1000' }, fixtures);
    try {
      origin.mode = 'hang';
      const res = await equal.fetch('/iiif/3/grid.png/full/161,/0/default.jpg');
      expect(res.status).toBe(504);
      expect(((await res.json()) as { error: string }).error).toBe('upstream_timeout');
    } finally {
      await equal.close();
    }
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
