import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { loadConfig, type Env } from '../../src/config.ts';
import type { Renderer } from '../../src/renderers/renderer.ts';
import { sharpRenderer } from '../../src/renderers/sharp-renderer.ts';
import { fsSource } from '../../src/sources/fs-source.ts';
import { makeFixtures } from '../fixtures/images.ts';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'iiif-edge-headers-'));
  await writeFile(join(root, 'grid.png'), (await makeFixtures())['grid.png'] ?? Buffer.alloc(0));
});
afterAll(() => rm(root, { recursive: true, force: true }));

function build(env: Env = {}) {
  const config = loadConfig({ IIIF_ROOT: root, ...env });
  const inner = sharpRenderer({ jpegQuality: 85, maxInputPixels: 1e8 });
  const renders: string[] = [];
  const renderer: Renderer = {
    render(input, plan) {
      renders.push(plan.canonical);
      return inner.render(input, plan);
    },
  };
  return { app: createApp({ config, source: fsSource({ root }), renderer }), renders };
}

const IMAGE = '/iiif/3/grid.png/full/max/0/default.jpg';

describe('HTTP headers', () => {
  it('answers HEAD without rendering, with the same ETag as GET', async () => {
    const { app, renders } = build();
    const head = await app.request(IMAGE, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(renders).toEqual([]);
    const get = await app.request(IMAGE);
    expect(renders).toEqual(['full/max/0/default.jpg']);
    expect(head.headers.get('etag')).toBe(get.headers.get('etag'));
  });

  it('gives 304 for a matching If-None-Match without rendering, 200 otherwise', async () => {
    const { app, renders } = build();
    const etag = (await app.request(IMAGE, { method: 'HEAD' })).headers.get('etag') ?? '';
    expect(etag).toMatch(/^"[0-9a-f]+"$/);
    const hit = await app.request(IMAGE, { headers: { 'if-none-match': `"other", W/${etag}` } });
    expect(hit.status).toBe(304);
    expect(await hit.text()).toBe('');
    expect(renders).toEqual([]);
    expect((await app.request(IMAGE, { headers: { 'if-none-match': '"other"' } })).status).toBe(200);
  });

  it('evaluates If-Modified-Since, If-Match and If-Unmodified-Since as RFC 9110 §13.2.2 orders them', async () => {
    const { app, renders } = build();
    const head = await app.request(IMAGE, { method: 'HEAD' });
    const etag = head.headers.get('etag') ?? '';
    const modified = head.headers.get('last-modified') ?? '';
    expect(Date.parse(modified)).not.toBeNaN();
    const status = async (headers: Record<string, string>) => (await app.request(IMAGE, { headers })).status;
    const later = new Date(Date.parse(modified) + 3_600_000).toUTCString();
    const earlier = new Date(Date.parse(modified) - 3_600_000).toUTCString();
    // Not modified since the date it gave, or a later one; modified since an earlier one.
    expect(await status({ 'if-modified-since': modified })).toBe(304);
    expect(await status({ 'if-modified-since': later })).toBe(304);
    expect(renders).toEqual([]);
    expect(await status({ 'if-modified-since': earlier })).toBe(200);
    expect(await status({ 'if-modified-since': 'not a date' })).toBe(200);
    // If-None-Match wins over If-Modified-Since (§13.1.3).
    expect(await status({ 'if-none-match': '"other"', 'if-modified-since': later })).toBe(200);
    // If-Match: strong comparison or *; a mismatch is 412 before anything else.
    expect(await status({ 'if-match': etag })).toBe(200);
    expect(await status({ 'if-match': '*' })).toBe(200);
    const refused = await app.request(IMAGE, { headers: { 'if-match': '"other"', 'if-none-match': etag } });
    expect(refused.status).toBe(412);
    expect(await refused.json()).toMatchObject({ status: 412, error: 'precondition_failed' });
    expect(await status({ 'if-match': `W/${etag}` })).toBe(412);
    expect(await status({ 'if-unmodified-since': earlier })).toBe(412);
    expect(await status({ 'if-unmodified-since': modified })).toBe(200);
  });

  it('dates a file replaced with its old mtime kept (cp -p, rsync -t) by the replacement, so If-Modified-Since alone sees it', async () => {
    const file = join(root, 'replaced.png');
    const fixtures = await makeFixtures();
    await writeFile(file, fixtures['grid.png'] ?? Buffer.alloc(0));
    const old = new Date('2020-01-01T00:00:00Z');
    await utimes(file, old, old);
    const first = await createApp({ config: loadConfig({ IIIF_ROOT: root }), source: fsSource({ root, statTtlMs: 0 }) }).request('/iiif/3/replaced.png/info.json');
    const modified = first.headers.get('last-modified') ?? '';
    // Last-Modified has whole seconds: the replacement must come in a later one.
    await new Promise((ok) => setTimeout(ok, 1100));
    await writeFile(file, await sharp({ create: { width: 10, height: 10, channels: 3, background: 'blue' } }).png().toBuffer());
    await utimes(file, old, old);
    const app = createApp({ config: loadConfig({ IIIF_ROOT: root }), source: fsSource({ root, statTtlMs: 0 }) });
    const again = await app.request('/iiif/3/replaced.png/info.json', { headers: { 'if-modified-since': modified } });
    expect(again.status).toBe(200);
    expect(Date.parse(again.headers.get('last-modified') ?? '')).toBeGreaterThan(Date.parse(modified));
  });

  it('refuses methods that would change something with 405 and Allow (RFC 9110 §15.5.6)', async () => {
    const { app } = build();
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'PROPFIND', 'MKCOL']) {
      for (const path of [IMAGE, '/iiif/3/grid.png/info.json', '/iiif/2/grid.png', '/iiif/3', '/health']) {
        const res = await app.request(path, { method });
        expect(res.status, `${method} ${path}`).toBe(405);
        expect(res.headers.get('allow')).toBe('GET, HEAD, OPTIONS');
        expect(await res.json()).toMatchObject({ status: 405, error: 'method_not_allowed' });
      }
    }
  });

  it('gives equivalent requests the same ETag and different requests different ones', async () => {
    const { app } = build();
    const tag = async (path: string) => (await app.request(path, { method: 'HEAD' })).headers.get('etag');
    expect(await tag('/iiif/3/grid.png/full/max/0/default.jpg')).toBe(await tag('/iiif/3/grid.png/0,0,300,200/300,200/0/default.jpg'));
    expect(await tag('/iiif/3/grid.png/full/max/0/default.jpg')).not.toBe(await tag('/iiif/3/grid.png/full/max/0/default.png'));
    expect(await tag('/iiif/3/grid.png/full/max/0/default.jpg')).not.toBe(await tag('/iiif/2/grid.png/full/max/0/default.jpg'));
  });

  it('changes the ETag of images and info.json with every setting that changes their bytes', async () => {
    const tags = async (env: Env) => {
      const { app } = build(env);
      const tag = async (path: string) => (await app.request(path, { method: 'HEAD' })).headers.get('etag');
      return { max: await tag(IMAGE), jp2: await tag('/iiif/3/grid.png/full/max/0/default.jp2'), info: await tag('/iiif/3/grid.png/info.json') };
    };
    const base = await tags({});
    // `max` means the largest allowed size: the limits decide its pixels, and info.json states them.
    for (const env of [{ IIIF_MAX_WIDTH: '200', IIIF_TILE_SIZE: '128' }, { IIIF_MAX_HEIGHT: '100', IIIF_TILE_SIZE: '64' }, { IIIF_MAX_AREA: '30000', IIIF_TILE_SIZE: '128' }]) {
      const other = await tags(env);
      expect(other.max, JSON.stringify(env)).not.toBe(base.max);
      expect(other.info, JSON.stringify(env)).not.toBe(base.info);
    }
    expect((await tags({ IIIF_DENSITY: '300' })).max).not.toBe(base.max);
    expect((await tags({ IIIF_JP2_MAX_OUTPUT_PIXELS: '10000' })).jp2).not.toBe(base.jp2);
    expect((await tags({ IIIF_TILE_SIZE: '256' })).info).not.toBe(base.info);
    expect((await tags({ IIIF_RIGHTS: 'https://creativecommons.org/publicdomain/zero/1.0/' })).info).not.toBe(base.info);
    // A setting that changes neither keeps them, so caches are not emptied for nothing.
    expect(await tags({ IIIF_CACHE_CONTROL_IMAGE: 'public, max-age=5' })).toEqual(base);
  });

  it('a public base URL with a unicode host works: ids, Link and Location in its ASCII form, never encoded twice', async () => {
    const { app } = build({ IIIF_PUBLIC_BASE_URL: 'https://bilder.例え.jp/base' });
    const image = await app.request(IMAGE, { method: 'HEAD' });
    expect(image.status).toBe(200);
    expect(image.headers.get('link')).toMatch(/^<https:\/\/bilder\.xn--r8jz45g\.jp\/base\/iiif\/3\/grid\.png\/full\/max\/0\/default\.jpg>/);
    const base = await app.request('/iiif/3/a%26b.png');
    expect(base.status).toBe(303);
    expect(base.headers.get('location')).toBe('https://bilder.xn--r8jz45g.jp/base/iiif/3/a%26b.png/info.json');
    const info = (await (await app.request('/iiif/3/grid.png/info.json')).json()) as { id: string };
    expect(info.id).toBe('https://bilder.xn--r8jz45g.jp/base/iiif/3/grid.png');
  });

  it('reads X-Forwarded-Proto in any case (HTTP scheme names are case-insensitive, RFC 3986 §3.1)', async () => {
    const { app } = build({ IIIF_TRUST_FORWARDED: 'true' });
    const id = async (proto: string) =>
      ((await (await app.request('/iiif/3/grid.png/info.json', { headers: { 'x-forwarded-proto': proto, 'x-forwarded-host': 'images.example.org' } })).json()) as { id: string }).id;
    expect(await id('HTTPS')).toBe('https://images.example.org/iiif/3/grid.png');
    expect(await id('https')).toBe('https://images.example.org/iiif/3/grid.png');
  });

  it('sends Cache-Control per kind of response, from configuration', async () => {
    const { app } = build({
      IIIF_CACHE_CONTROL_IMAGE: 'public, max-age=111',
      IIIF_CACHE_CONTROL_INFO: 'public, max-age=222',
      IIIF_CACHE_CONTROL_ERROR: 'public, max-age=333',
    });
    const cc = async (path: string) => (await app.request(path, { method: 'HEAD' })).headers.get('cache-control');
    expect(await cc(IMAGE)).toBe('public, max-age=111');
    expect(await cc('/iiif/3/grid.png/info.json')).toBe('public, max-age=222');
    expect(await cc('/iiif/3/missing.png/info.json')).toBe('public, max-age=333');
    expect(await cc('/iiif/3/grid.png/full/max/0/default.xyz')).toBe('public, max-age=333');
  });

  it('sends the exact canonical and profile Link headers with the public base URL', async () => {
    const { app } = build({ IIIF_PUBLIC_BASE_URL: 'https://images.example.org/base' });
    const res = await app.request('/iiif/3/grid.png/pct:50,50,50,50/!100,100/!90/gray.png', { method: 'HEAD' });
    expect(res.headers.get('link')).toBe(
      '<https://images.example.org/base/iiif/3/grid.png/150,100,150,100/100,67/!90/gray.png>;rel="canonical", ' +
        '<http://iiif.io/api/image/3/level2.json>;rel="profile"',
    );
    const info = (await (await app.request('/iiif/3/grid.png/info.json')).json()) as { id: string };
    expect(info.id).toBe('https://images.example.org/base/iiif/3/grid.png');
  });

  it('negotiates the info.json media type per version and varies on Accept', async () => {
    const { app } = build();
    const type = async (version: number, accept?: string) => {
      const res = await app.request(`/iiif/${version}/grid.png/info.json`, { headers: accept ? { accept } : {} });
      expect(res.headers.get('vary')).toMatch(/Accept/);
      return res.headers.get('content-type');
    };
    expect(await type(3)).toBe('application/ld+json;profile="http://iiif.io/api/image/3/context.json"');
    expect(await type(3, 'application/json')).toBe('application/json');
    expect(await type(2)).toBe('application/json');
    expect(await type(2, 'application/ld+json')).toBe('application/ld+json');
  });

  it('reflects the origin with Vary: Origin when configured, and allows only listed origins', async () => {
    const reflect = build({ IIIF_CORS_ALLOW_ORIGIN: 'REFLECT_ORIGIN' }).app;
    const res = await reflect.request(IMAGE, { method: 'HEAD', headers: { origin: 'https://viewer.example' } });
    expect(res.headers.get('access-control-allow-origin')).toBe('https://viewer.example');
    expect(res.headers.get('vary')).toMatch(/Origin/);
    const listed = build({ IIIF_CORS_ALLOW_ORIGIN: 'https://a.example, https://b.example' }).app;
    const other = await listed.request(IMAGE, { method: 'HEAD', headers: { origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers a CORS preflight with 204, methods and headers', async () => {
    const { app } = build();
    const res = await app.request(IMAGE, {
      method: 'OPTIONS',
      headers: { origin: 'https://viewer.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-test' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-methods')).toBe('GET,HEAD,OPTIONS');
    expect(res.headers.get('access-control-allow-headers')).toBe('*');
    expect(res.headers.get('access-control-max-age')).toBe('3600');
  });

  it('never sends Set-Cookie; times images, not info.json from local files', async () => {
    const { app } = build();
    for (const path of [IMAGE, '/iiif/3/grid.png/info.json', '/iiif/3/missing.png/info.json', '/iiif/3/missing.png/full/max/0/default.jpg']) {
      const res = await app.request(path);
      expect(res.headers.get('set-cookie')).toBeNull();
      if (path.endsWith('/info.json')) expect(res.headers.get('server-timing')).toBeNull();
      else expect(res.headers.get('server-timing')).toMatch(/total;dur=/);
    }
  });
});

describe('configuration', () => {
  it('names the bad key and what it expected', () => {
    expect(() => loadConfig({ IIIF_MAX_WIDTH: 'wide' })).toThrow(/IIIF_MAX_WIDTH: expected a whole number/);
    expect(() => loadConfig({ IIIF_SOURCE: 'ftp' })).toThrow(/IIIF_SOURCE: expected fs, s3 or r2/);
    expect(() => loadConfig({ IIIF_PUBLIC_BASE_URL: 'images.example.org' })).toThrow(/IIIF_PUBLIC_BASE_URL/);
    expect(() => loadConfig({ IIIF_CORS_ALLOW_CREDENTIALS: 'true' })).toThrow(/IIIF_CORS_ALLOW_CREDENTIALS/);
  });

  it('accepts serverless-iiif names as aliases, ours winning', () => {
    const c = loadConfig({ forceHost: 'a.example', corsMaxAge: '10', IIIF_CORS_MAX_AGE: '20' });
    expect(c.IIIF_FORCE_HOST).toBe('a.example');
    expect(c.IIIF_CORS_MAX_AGE).toBe(20);
  });
});
