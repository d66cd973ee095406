import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLES_DIR, startServer, type RunningServer } from '../../adapters/node/server.ts';

// Debian's Chromium (`.ci/run` installs it); playwright-core never downloads a browser here.
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
if (!CHROMIUM) console.warn('landing page tests skipped: no Chromium at /usr/bin/chromium (apt-get install chromium)');

/** The bundled samples, with sizes read from the files themselves, not from our info.json. */
const SAMPLES = ['collection/violet.webp', 'colour-grid.png', 'pyramid.tif', 'rings.jpg'];

describe.skipIf(!CHROMIUM)('landing page in headless Chromium', () => {
  let browser: Browser;
  let samples: RunningServer;
  let many: RunningServer;
  let manyRoot: string;

  beforeAll(async () => {
    manyRoot = await mkdtemp(join(tmpdir(), 'iiif-edge-gallery-'));
    const png = await sharp({ create: { width: 24, height: 16, channels: 3, background: '#c33' } }).png().toBuffer();
    for (let i = 0; i < 230; i++) await writeFile(join(manyRoot, `img-${String(i).padStart(3, '0')}.png`), png);
    [samples, many] = await Promise.all([
      startServer({ PORT: '0', HOST: '127.0.0.1' }),
      startServer({ IIIF_ROOT: manyRoot, PORT: '0', HOST: '127.0.0.1' }),
    ]);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all([samples?.close(), many?.close()]);
    await rm(manyRoot, { recursive: true, force: true });
  });

  async function open(url: string): Promise<Page> {
    const page = await browser.newPage();
    const failed: string[] = [];
    page.on('requestfailed', (r) => failed.push(r.url()));
    page.on('response', (r) => {
      if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
    });
    await page.goto(url);
    await page.waitForLoadState('networkidle');
    expect(failed).toEqual([]);
    return page;
  }

  it('shows every sample with a decoded thumbnail, its true dimensions and its format', async () => {
    const page = await open(`${samples.url}/`);
    const cards = await page.$$eval('li.card', (els) =>
      els.map((el) => {
        const img = el.querySelector('img') as HTMLImageElement;
        return {
          id: el.getAttribute('data-id'),
          thumb: [img.naturalWidth, img.naturalHeight],
          // As the browser resolved it: the page writes it relative to itself.
          src: img.src,
          meta: el.querySelector('.meta')?.textContent?.replace(/\s+/g, ' ') ?? '',
        };
      }),
    );
    expect(cards.map((c) => c.id)).toEqual(SAMPLES);
    for (const card of cards) {
      const { width = 0, height = 0 } = await sharp(join(SAMPLES_DIR, card.id ?? '')).metadata();
      expect(card.src).toBe(`${samples.url}/iiif/3/${encodeURIComponent(card.id ?? '')}/full/!200,200/0/default.jpg`);
      // !200,200 keeps the aspect ratio and fits in 200×200 (IIIF 3.0 §4.2).
      const scale = Math.min(200 / width, 200 / height, 1);
      expect(card.thumb[0]).toBeCloseTo(Math.round(width * scale), -0.5);
      expect(card.thumb[1]).toBeCloseTo(Math.round(height * scale), -0.5);
      await page.waitForFunction((id) => !document.querySelector(`li[data-id="${id}"] .dims`)?.textContent?.includes('…'), card.id);
      const meta = await page.$eval(`li[data-id="${card.id}"] .meta`, (el) => el.textContent?.replace(/\s+/g, ' ') ?? '');
      expect(meta).toContain(`${width} × ${height}`);
      expect(meta).toContain(card.id?.split('.').pop()?.toUpperCase());
    }
    await page.close();
  });

  it('filters by name with the search box', async () => {
    const page = await open(`${samples.url}/`);
    await page.fill('input[type=search]', 'RING');
    await Promise.all([page.waitForURL(/q=RING/), page.click('form button')]);
    expect(await page.$$eval('li.card', (els) => els.map((e) => e.getAttribute('data-id')))).toEqual(['rings.jpg']);
    expect(await page.textContent('p.count')).toContain('1 image matching');
    await page.close();
  });

  it('pages past a hundred images', async () => {
    const seen: string[] = [];
    let page = await open(`${many.url}/`);
    for (const [n, count] of [[1, 100], [2, 100], [3, 30]] as const) {
      expect(await page.textContent('nav.pages span')).toBe(`page ${n} of 3`);
      const ids = await page.$$eval('li.card', (els) => els.map((e) => e.getAttribute('data-id') ?? ''));
      expect(ids).toHaveLength(count);
      seen.push(...ids);
      if (n < 3) {
        await Promise.all([page.waitForURL(new RegExp(`page=${n + 1}`)), page.click('a[rel=next]')]);
        await page.waitForLoadState('networkidle');
      }
    }
    expect(new Set(seen).size).toBe(230);
    await page.close();
    page = await open(`${many.url}/?page=99`);
    expect(await page.textContent('nav.pages span')).toBe('page 3 of 3');
    await page.close();
  });

  it('works behind a proxy that mounts it under a path and decodes %2F (IIIF_PUBLIC_BASE_URL with a path, IIIF_SLASH_SUBSTITUTE)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'iiif-edge-mounted-'));
    const png = await sharp({ create: { width: 24, height: 16, channels: 3, background: '#3c3' } }).png().toBuffer();
    await mkdir(join(root, 'nested/deeper'), { recursive: true });
    await writeFile(join(root, 'nested/deeper/n.png'), png);
    await writeFile(join(root, 'top.png'), png);
    const proxy = createServer();
    await new Promise<void>((ok) => proxy.listen(0, '127.0.0.1', ok));
    const base = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/sub`;
    const mounted = await startServer({ IIIF_ROOT: root, PORT: '0', HOST: '127.0.0.1', IIIF_PUBLIC_BASE_URL: base, IIIF_SLASH_SUBSTITUTE: '~' });
    // What some proxies do: strip the mount path and decode %2F, so only the substitute reaches an identifier.
    proxy.on('request', (req, res) => {
      if (!req.url?.startsWith('/sub/')) return void res.writeHead(404).end();
      const path = req.url.slice('/sub'.length).replace(/%2F/gi, '/');
      const upstream = request(`${mounted.url}${path}`, { method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      upstream.on('error', () => res.writeHead(502).end());
      req.pipe(upstream);
    });
    try {
      const page = await open(`${base}/`);
      const cards = await page.$$eval('li.card', (els) =>
        els.map((el) => ({ id: el.getAttribute('data-id'), dims: el.querySelector('.dims')?.textContent, width: (el.querySelector('img') as HTMLImageElement).naturalWidth })),
      );
      expect(cards).toEqual([
        { id: 'nested/deeper/n.png', dims: '24 × 16', width: 24 },
        { id: 'top.png', dims: '24 × 16', width: 24 },
      ]);
      await Promise.all([page.waitForURL(`${base}/?q=deeper`), (async () => {
        await page.fill('input[type=search]', 'deeper');
        await page.click('form button');
      })()]);
      await Promise.all([page.waitForURL(`${base}/viewer?id=nested%2Fdeeper%2Fn.png`), page.click('li a.thumb')]);
      await page.waitForSelector('#viewer canvas');
      await page.waitForLoadState('networkidle');
      await Promise.all([page.waitForURL(`${base}/`), page.click('a[href="./"]')]);
      await page.close();
    } finally {
      proxy.closeAllConnections();
      await new Promise<void>((ok) => proxy.close(() => ok()));
      await mounted.close();
      await rm(root, { recursive: true, force: true });
    }
  });

  it('says "unreadable" for an image whose info.json is refused', async () => {
    const root = await mkdtemp(join(tmpdir(), 'iiif-edge-unreadable-'));
    await writeFile(join(root, 'zero.jpg'), new Uint8Array(0));
    const server = await startServer({ IIIF_ROOT: root, PORT: '0', HOST: '127.0.0.1' });
    try {
      const page = await browser.newPage();
      await page.goto(`${server.url}/`);
      await page.waitForFunction(() => document.querySelector('.dims')?.textContent !== '…');
      expect(await page.textContent('.dims')).toBe('unreadable');
      await page.close();
    } finally {
      await server.close();
      await rm(root, { recursive: true, force: true });
    }
  });

  it('opens the viewer with its navigator and draws the image', async () => {
    const page = await open(`${samples.url}/`);
    await Promise.all([page.waitForURL(/\/viewer\?id=pyramid\.tif/), page.click('li[data-id="pyramid.tif"] a.thumb')]);
    await page.waitForSelector('#viewer canvas');
    await page.waitForSelector('.navigator');
    // OpenSeadragon draws tiles on its canvas once they arrive: look for non-background pixels.
    await page.waitForFunction(() => {
      const canvas = document.querySelector('#viewer .openseadragon-canvas canvas') as HTMLCanvasElement | null;
      const ctx = canvas?.getContext('2d');
      if (!canvas || !ctx || canvas.width === 0) return false;
      const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
      for (let i = 0; i < data.length; i += 4 * 97) if (data[i + 3] !== 0) return true;
      return false;
    }, undefined, { timeout: 15_000 });
    await page.close();
  });
});

describe('landing pages over HTTP', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ PORT: '0', HOST: '127.0.0.1' });
  });
  afterAll(() => server?.close());

  it('answer other methods with 405 and Allow, as the IIIF routes do', async () => {
    for (const path of ['/', '/viewer?id=rings.jpg']) {
      const res = await fetch(`${server.url}${path}`, { method: 'POST' });
      expect(res.status, path).toBe(405);
      expect(res.headers.get('allow')).toBe('GET, HEAD, OPTIONS');
      expect(await res.json()).toMatchObject({ error: 'method_not_allowed' });
    }
  });

  it('send the viewer without an image back to the gallery', async () => {
    for (const path of ['/viewer', '/viewer?id=']) {
      const res = await fetch(`${server.url}${path}`, { redirect: 'manual' });
      expect(res.status, path).toBe(303);
      expect(res.headers.get('location')).toBe('./');
    }
  });
});
