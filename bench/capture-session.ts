import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import sharp from 'sharp';
import { startServer } from '../adapters/node/server.ts';

/**
 * Captures a viewer session for `npm run bench` to replay (issue 17): OpenSeadragon (the
 * node_modules copy, as the landing page serves it) in headless Chromium, 1280×800, opens a
 * 12000×9000 pyramid with 256 px tiles (the bench fixture's geometry; the requests depend on
 * nothing else) through our Node adapter, waits until every tile is in, zooms in two
 * steps (×2 each), then visits the centre and the four corners, waiting for the tiles each time.
 * Every IIIF request, in order, becomes one line of bench/sessions/openseadragon.txt (the path
 * below /iiif/3/, with the identifier as `{id}`).
 *
 *   npx tsx bench/capture-session.ts      (CHROMIUM=/usr/bin/chromium by default)
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(ROOT, 'bench/sessions/openseadragon.txt');

/** Resolves once no IIIF request has been in flight for `quietMs`. */
function idle(page: Page, inFlight: () => number, quietMs = 500): Promise<void> {
  return new Promise((ok) => {
    let since = performance.now();
    const timer = setInterval(() => {
      if (inFlight() > 0) since = performance.now();
      else if (performance.now() - since >= quietMs) {
        clearInterval(timer);
        ok();
      }
    }, 50);
  });
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'iiif-edge-session-'));
  await sharp({ create: { width: 12000, height: 9000, channels: 3, background: { r: 120, g: 110, b: 100 } } })
    .tiff({ tile: true, tileWidth: 256, tileHeight: 256, pyramid: true, compression: 'jpeg', quality: 85 })
    .toFile(join(dir, 'big.tif'));
  const server = await startServer({ IIIF_ROOT: dir, PORT: '0', HOST: '127.0.0.1' });
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium' });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const requests: string[] = [];
    let pending = 0;
    const prefix = `${server.url}/iiif/3/big.tif/`;
    page.on('request', (r) => {
      if (!r.url().startsWith(prefix)) return;
      requests.push(`{id}/${r.url().slice(prefix.length)}`);
      pending++;
    });
    const done = (r: { url(): string }) => void (r.url().startsWith(prefix) && pending--);
    page.on('requestfinished', done);
    page.on('requestfailed', done);
    // A page of our own on the server's origin: the landing page's viewer, with the instance kept.
    await page.route(`${server.url}/capture.html`, (route) =>
      route.fulfill({
        contentType: 'text/html',
        body: `<!doctype html><div id="v" style="width:1280px;height:800px"></div>
<script src="/openseadragon/openseadragon.min.js"></script>
<script>window.viewer = OpenSeadragon({ id: 'v', prefixUrl: '/openseadragon/images/', tileSources: [${JSON.stringify(`${prefix}info.json`)}], animationTime: 0 });</script>`,
      }),
    );
    await page.goto(`${server.url}/capture.html`);
    await page.waitForFunction(() => (window as unknown as { viewer?: { world: { getItemCount(): number } } }).viewer?.world.getItemCount() === 1);
    await idle(page, () => pending);
    const step = async (action: string) => {
      await page.evaluate(action);
      await idle(page, () => pending);
    };
    await step('viewer.viewport.zoomBy(2, undefined, true)');
    await step('viewer.viewport.zoomBy(2, undefined, true)');
    // Viewport coordinates: the image is 1 wide and 0.75 high.
    for (const [x, y] of [[0.5, 0.375], [0, 0], [1, 0], [0, 0.75], [1, 0.75]]) {
      await step(`viewer.viewport.panTo(new OpenSeadragon.Point(${x}, ${y}), true)`);
    }
    await mkdir(dirname(OUT), { recursive: true });
    await writeFile(OUT, `${requests.join('\n')}\n`);
    process.stderr.write(`${requests.length} requests written to ${OUT}\n`);
  } finally {
    await browser.close();
    await server.close(0);
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
