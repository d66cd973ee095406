import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RenderPlan } from '../../src/iiif/types.ts';
import { forwardRenderer } from '../../src/renderers/forward-renderer.ts';
import type { Renderer, RenderInput } from '../../src/renderers/renderer.ts';
import { limitRenderer } from '../../src/http/concurrency.ts';

let origin: Server;
let url: string;
let hits = 0;
/** The ETag the origin gives its answers: ours when it renders the same source with the same settings. */
let originEtag = '';
beforeAll(async () => {
  origin = createServer((_req, res) => {
    hits++;
    res.writeHead(200, { 'Content-Type': 'image/jpeg', ETag: originEtag }).end(Buffer.from([hits]));
  });
  await new Promise<void>((ok) => origin.listen(0, '127.0.0.1', ok));
  url = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((ok) => origin.close(() => ok())));

/** As the app uses every renderer: behind render slots, which ask for a kept render first. */
const withSlots = (renderer: Renderer, maxConcurrent = 4) => limitRenderer(renderer, { maxConcurrent, maxQueued: 16, queueTimeoutMs: 5000 });

/** The Cache API's surface, in memory. */
function memoryCache() {
  const entries = new Map<string, Response>();
  return {
    match: async (key: string) => entries.get(key)?.clone(),
    put: async (key: string, res: Response) => void entries.set(key, res),
  };
}

describe('forwarded renders in the Cache API', () => {
  it('are used again only for the same answer ETag: a settings change (same URL, same source) renders again', async () => {
    const render = withSlots(forwardRenderer({ origin: url, timeoutMs: 5000, cacheControl: 'public, max-age=60', maxBytes: 1024, cache: memoryCache() }));
    const input = (etag: string) =>
      ({ identifier: 'a.jpg', object: { etag: 'source-1', size: 1 }, canonicalPath: '/iiif/3/a.jpg/full/max/0/default.jpg', version: 3, etag }) as unknown as RenderInput;
    const plan = { format: 'jpg' } as RenderPlan;
    hits = 0;
    originEtag = '"settings-a"';
    const first = await render.render(input('"settings-a"'), plan);
    const again = await render.render(input('"settings-a"'), plan);
    expect(hits).toBe(1);
    expect([...again.body]).toEqual([...first.body]);
    originEtag = '"settings-b"';
    const changed = await render.render(input('"settings-b"'), plan);
    expect(hits).toBe(2);
    expect([...changed.body]).toEqual([2]);
  });

  it('are neither kept nor marked as this version when the origin answers another ETag (its source not yet replaced)', async () => {
    const render = withSlots(forwardRenderer({ origin: url, timeoutMs: 5000, cacheControl: 'public, max-age=60', maxBytes: 1024, cache: memoryCache() }));
    const input = { canonicalPath: '/iiif/3/b.jpg/full/max/0/default.jpg', etag: '"new-version"' } as unknown as RenderInput;
    const plan = { format: 'jpg' } as RenderPlan;
    hits = 0;
    originEtag = '"old-version"';
    expect((await render.render(input, plan)).otherVersion).toBe(true);
    expect((await render.render(input, plan)).otherVersion).toBe(true);
    expect(hits).toBe(2);
    // A proxy in front of the origin may mark its ETag weak: still the same version.
    originEtag = 'W/"new-version"';
    expect((await render.render(input, plan)).otherVersion).toBeUndefined();
    await render.render(input, plan);
    expect(hits).toBe(3);
  });
});

describe('forwarded renders kept in the Cache API', () => {
  it('answer without a render slot: a kept render does not wait behind a slow origin render', async () => {
    let hold: (() => void) | undefined;
    const slow = createServer((req, res) => {
      const send = () => res.writeHead(200, { 'Content-Type': 'image/jpeg', ETag: '"v"' }).end(Buffer.from([1]));
      if (req.url?.includes('/slow/')) hold = send;
      else send();
    });
    await new Promise<void>((ok) => slow.listen(0, '127.0.0.1', ok));
    try {
      const base = `http://127.0.0.1:${(slow.address() as AddressInfo).port}`;
      const render = withSlots(forwardRenderer({ origin: base, timeoutMs: 5000, maxBytes: 1024, cacheControl: 'public, max-age=60', cache: memoryCache() }), 1);
      const input = (path: string) => ({ canonicalPath: path, etag: '"v"' }) as unknown as RenderInput;
      const plan = { format: 'jpg' } as RenderPlan;
      await render.render(input('/iiif/3/kept.jpg/full/max/0/default.jpg'), plan);
      // The only slot goes to a render the origin holds.
      const held = render.render(input('/iiif/3/slow/full/max/0/default.jpg'), plan);
      await new Promise((ok) => setTimeout(ok, 50));
      expect(hold).toBeDefined();
      const kept = await Promise.race([
        render.render(input('/iiif/3/kept.jpg/full/max/0/default.jpg'), plan).then((out) => [...out.body]),
        new Promise((ok) => setTimeout(() => ok('waited for the slot'), 1000)),
      ]);
      expect(kept).toEqual([1]);
      hold?.();
      await held;
    } finally {
      slow.closeAllConnections();
      await new Promise<void>((ok) => slow.close(() => ok()));
    }
  });
});

describe('forwarded renders held at once', () => {
  it('are bounded to four times IIIF_FORWARD_MAX_BYTES in all: past that, 503 busy; the bytes are given back after', async () => {
    // Each answer sends 60,000 bytes, then ends 300 ms later: five at once hold 300,000 bytes.
    const slow = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'image/jpeg' });
      res.write(new Uint8Array(60_000));
      setTimeout(() => res.end(), 300);
    });
    await new Promise<void>((ok) => slow.listen(0, '127.0.0.1', ok));
    try {
      const base = `http://127.0.0.1:${(slow.address() as AddressInfo).port}`;
      const render = forwardRenderer({ origin: base, timeoutMs: 5000, maxBytes: 65_536, cacheControl: 'no-store' });
      const input = (i: number) => ({ canonicalPath: `/iiif/3/a.jpg/full/${i},/0/default.jpg`, etag: '"a"' }) as unknown as RenderInput;
      const plan = { format: 'jpg' } as RenderPlan;
      const results = await Promise.allSettled([1, 2, 3, 4, 5].map((i) => render.render(input(i), plan)));
      const refused = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as { status: number; code: string });
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(4);
      expect(refused).toEqual([expect.objectContaining({ status: 503, code: 'busy' })]);
      // Given back: five more in turn all succeed.
      for (const i of [6, 7, 8, 9, 10]) expect((await render.render(input(i), plan)).body.byteLength).toBe(60_000);
    } finally {
      slow.closeAllConnections();
      await new Promise<void>((ok) => slow.close(() => ok()));
    }
  });
});
