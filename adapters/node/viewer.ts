import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { serveStatic } from '@hono/node-server/serve-static';
import type { Hono } from 'hono';
import { html, raw } from 'hono/html';
import type { ImageSource } from '../../src/sources/source.ts';

const osdDir = dirname(createRequire(import.meta.url).resolve('openseadragon'));

const page = (title: string, body: ReturnType<typeof html>) => html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem}
#viewer{width:100%;height:80vh;background:#111}code{background:#eee;padding:0 .2em}</style></head>
<body>${body}</body></html>`;

/** Landing page listing the served images, each opening in OpenSeadragon (served from npm, no CDN). */
export function mountViewer(app: Hono, source: ImageSource, prefix: string): void {
  app.use(
    '/openseadragon/*',
    serveStatic({ root: osdDir, rewriteRequestPath: (p) => p.replace(/^\/openseadragon/, '') }),
  );

  app.get('/', async (c) => {
    c.header('Content-Security-Policy', undefined);
    const ids = (await source.list?.(500)) ?? [];
    const items = ids.map((id) => {
      const enc = encodeURIComponent(id);
      return html`<li><a href="/viewer?id=${enc}">${id}</a> ·
        <a href="${prefix}/3/${enc}/info.json">info.json (3.0)</a> ·
        <a href="${prefix}/2/${enc}/info.json">info.json (2.1)</a></li>`;
    });
    return c.html(
      page(
        'iiif-edge',
        html`<h1>iiif-edge</h1><p>IIIF Image API 3.0 at <code>${prefix}/3/</code> and 2.1 at <code>${prefix}/2/</code>.</p>
        <ul>${items}</ul>${ids.length ? '' : html`<p>No images found.</p>`}`,
      ),
    );
  });

  app.get('/viewer', (c) => {
    c.header('Content-Security-Policy', undefined);
    const id = c.req.query('id') ?? '';
    const infoUrl = `${prefix}/3/${encodeURIComponent(id)}/info.json`;
    return c.html(
      page(
        id,
        html`<p><a href="/">← all images</a> · <code>${id}</code></p><div id="viewer"></div>
        <script src="/openseadragon/openseadragon.min.js"></script>
        <script>OpenSeadragon({id:'viewer',prefixUrl:'/openseadragon/images/',tileSources:[${raw(JSON.stringify(infoUrl).replace(/</g, '\\u003c'))}],showNavigator:true});</script>`,
      ),
    );
  });
}
