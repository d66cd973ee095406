import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { serveStatic } from '@hono/node-server/serve-static';
import type { Hono, MiddlewareHandler } from 'hono';
import { html, raw } from 'hono/html';
import { httpError } from '../../src/errors.ts';
import { emitIdentifier } from '../../src/iiif/path.ts';
import type { ImageSource } from '../../src/sources/source.ts';
import { cachedListing, galleryPage } from './gallery.ts';

const page = (title: string, body: ReturnType<typeof html>) => html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title}</title><link rel="icon" href="data:,">
<style>body{font:16px/1.5 system-ui,sans-serif;margin:0 auto;max-width:72rem;padding:1rem;color:#222}
#viewer{width:100%;height:80vh;background:#111}code{background:#eee;padding:0 .2em}
.grid{list-style:none;padding:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(11rem,1fr));gap:1rem}
.card{border:1px solid #ddd;border-radius:.4rem;padding:.5rem;background:#fafafa;overflow-wrap:anywhere}
.card a.thumb{display:flex;align-items:center;justify-content:center;height:200px;background:#eee}
.card img{max-width:100%;max-height:200px}.meta{font-size:.85rem;color:#555}
nav.pages{display:flex;gap:1rem;align-items:center;margin:1rem 0}input[type=search]{font:inherit;padding:.2rem .4rem;width:20rem}</style></head>
<body>${body}</body></html>`;

/**
 * Landing page: a gallery of the served images (thumbnails by our own IIIF URLs), each opening in
 * OpenSeadragon, served from npm (no CDN). Every link is relative, so the pages work wherever a
 * proxy mounts the server (IIIF_PUBLIC_BASE_URL with a path), and names images as info.json does.
 */
export function mountViewer(app: Hono, source: ImageSource, prefix: string, slashSubstitute?: string): void {
  const listing = cachedListing(source, Date.now, slashSubstitute);
  // Relative to the pages, which sit at the root: `/iiif` → `iiif`, `` (IIIF_PREFIX=/) → ``.
  const service = (version: 2 | 3, id: string) => `${prefix.slice(1)}${prefix ? '/' : ''}${version}/${emitIdentifier(id, { ...(slashSubstitute ? { slashSubstitute } : {}) })}`;
  // OpenSeadragon's folder is looked up on the first request for it, not in every cold start.
  let assets: MiddlewareHandler | undefined;
  app.use('/openseadragon/*', (c, next) =>
    (assets ??= serveStatic({ root: dirname(createRequire(import.meta.url).resolve('openseadragon')), rewriteRequestPath: (p) => p.replace(/^\/openseadragon/, '') }))(c, next),
  );

  app.get('/', async (c) => {
    c.header('Content-Security-Policy', undefined);
    const { ids, truncated } = await listing();
    const view = galleryPage(ids, c.req.query('q') ?? '', Number(c.req.query('page') ?? '1'));
    const cards = view.items.map((id) => {
      const viewer = `viewer?id=${encodeURIComponent(id)}`;
      const ext = /\.([^./]+)$/.exec(id)?.[1]?.toLowerCase() ?? '?';
      return html`<li class="card" data-id="${id}"><a class="thumb" href="${viewer}"><img loading="lazy" alt="${id}"
        src="${service(3, id)}/full/!200,200/0/default.jpg"></a>
        <div><a href="${viewer}">${id}</a></div>
        <div class="meta"><span class="dims" data-info="${service(3, id)}/info.json">…</span> · ${ext.toUpperCase()} ·
        <a href="${service(3, id)}/info.json">3.0</a> · <a href="${service(2, id)}/info.json">2.1</a></div></li>`;
    });
    const link = (p: number) => `?${new URLSearchParams({ ...(view.query ? { q: view.query } : {}), page: String(p) })}`;
    return c.html(
      page(
        'iiif-edge',
        html`<h1>iiif-edge</h1><p>IIIF Image API 3.0 at <code>${prefix}/3/</code> and 2.1 at <code>${prefix}/2/</code>.</p>
        <form method="get" action="./"><input type="search" name="q" value="${view.query}" placeholder="Filter by name" aria-label="Filter by name">
        <button>Search</button></form>
        <p class="count">${view.total} image${view.total === 1 ? '' : 's'}${view.query ? html` matching <code>${view.query}</code>` : ''}${truncated ? ` (listing stops at ${ids.length} files)` : ''}</p>
        <ul class="grid">${cards}</ul>${view.total ? '' : html`<p>No images found.</p>`}
        ${view.pages > 1
          ? html`<nav class="pages">${view.page > 1 ? html`<a rel="prev" href="${link(view.page - 1)}">← previous</a>` : ''}
            <span>page ${view.page} of ${view.pages}</span>${view.page < view.pages ? html`<a rel="next" href="${link(view.page + 1)}">next →</a>` : ''}</nav>`
          : ''}
        <script>${raw(DIMENSIONS_SCRIPT)}</script>`,
      ),
    );
  });

  app.get('/viewer', (c) => {
    c.header('Content-Security-Policy', undefined);
    const id = c.req.query('id') ?? '';
    // Nothing to show: back to the gallery.
    if (id === '') return c.redirect('./', 303);
    const infoUrl = `${service(3, id)}/info.json`;
    return c.html(
      page(
        id,
        html`<p><a href="./">← all images</a> · <code>${id}</code></p><div id="viewer"></div>
        <script src="openseadragon/openseadragon.min.js"></script>
        <script>OpenSeadragon({id:'viewer',prefixUrl:'openseadragon/images/',tileSources:[${raw(JSON.stringify(infoUrl).replace(/</g, '\\u003c'))}],showNavigator:true,navigatorAutoFade:false});</script>`,
      ),
    );
  });
  // The pages are read-only too: other methods are a 405, as on the IIIF routes.
  app.on(['POST', 'PUT', 'PATCH', 'DELETE'], ['/', '/viewer'], () => {
    throw httpError(405, 'method_not_allowed', 'only GET and HEAD are served here', { Allow: 'GET, HEAD, OPTIONS' });
  });
}

/** Dimensions come from each card's info.json once it scrolls into view: the page itself reads no image. */
const DIMENSIONS_SCRIPT = `(() => {
  const show = async (el) => {
    try { const r = await fetch(el.dataset.info); if (!r.ok) throw r.status; const i = await r.json(); el.textContent = i.width + ' × ' + i.height; }
    catch { el.textContent = 'unreadable'; }
  };
  const io = new IntersectionObserver((es) => es.forEach((e) => { if (e.isIntersecting) { io.unobserve(e.target); show(e.target); } }));
  document.querySelectorAll('.dims').forEach((el) => io.observe(el));
})();`;
