import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { createIiif } from '../../src/app.ts';
import { loadConfig, type Env } from '../../src/config.ts';
import type { Logger, LogFields } from '../../src/log/logger.ts';
import type { RequestRecord } from '../../src/metrics.ts';
import type { DirectAnswer } from '../../src/routes/direct.ts';
import { sharpRenderer } from '../../src/renderers/sharp-renderer.ts';
import { fsSource } from '../../src/sources/fs-source.ts';

// The bundled 6000×4000 JPEG-tiled pyramid (256² tiles): aligned tiles, edge tiles, info.json.
const ROOT = fileURLToPath(new URL('../../adapters/node/samples/', import.meta.url));
const ORIGIN = 'http://images.example.org:8080';

function build(env: Env = {}, statDelayMs = 0) {
  const config = loadConfig({ IIIF_ROOT: ROOT, ...env });
  const records: RequestRecord[] = [];
  const lines: LogFields[] = [];
  const logger: Logger = {
    debug: () => undefined,
    info: (_m, f) => void lines.push(f ?? {}),
    warn: (_m, f) => void lines.push(f ?? {}),
    error: (_m, f) => void lines.push(f ?? {}),
    child: () => logger,
  };
  const metrics = { request: (r: RequestRecord) => void records.push(r), cacheLookup: () => undefined, renderSlots: () => undefined };
  const files = fsSource({ root: ROOT, statTtlMs: 1000 });
  // A slow disk: every stat waits, so that the request timeout is what answers.
  const source = statDelayMs ? { ...files, stat: async (id: string) => (await new Promise((ok) => setTimeout(ok, statDelayMs)), files.stat(id)) } : files;
  return { ...createIiif({ config, source, renderer: sharpRenderer({ jpegQuality: 85, maxInputPixels: 1e8 }), logger, metrics }), records, lines };
}

type Headers2 = Record<string, string>;

/** Headers as one comparable record: names lower-cased, repeated ones joined, Server-Timing durations dropped. */
function normalise(entries: Iterable<[string, string]>): Headers2 {
  const out: Headers2 = {};
  for (const [name, value] of entries) {
    const key = name.toLowerCase();
    out[key] = out[key] === undefined ? value : `${out[key]}, ${value}`;
  }
  if (out['server-timing']) out['server-timing'] = out['server-timing'].replace(/dur=[\d.]+/g, 'dur=#');
  delete out['content-length'];
  return out;
}

const CASES: Array<{ name: string; path: string; method?: string; headers?: Record<string, string> }> = [
  { name: 'aligned tile, 3.0', path: '/iiif/3/pyramid.tif/256,512,256,256/256,256/0/default.jpg' },
  { name: 'aligned tile at scale factor 4, 2.1', path: '/iiif/2/pyramid.tif/1024,0,1024,1024/256,/0/default.jpg' },
  { name: 'right edge tile (cropped)', path: '/iiif/3/pyramid.tif/5888,0,112,256/112,256/0/default.jpg' },
  { name: 'smallest level, one pixel short (sizes rounding)', path: '/iiif/3/pyramid.tif/full/187,125/0/default.jpg' },
  { name: 'smallest level, one pixel over (OpenSeadragon rounds up): its edge repeated', path: '/iiif/3/pyramid.tif/full/188,126/0/default.jpg' },
  { name: 'info.json 3.0', path: '/iiif/3/pyramid.tif/info.json' },
  { name: 'info.json 2.1', path: '/iiif/2/pyramid.tif/info.json' },
  { name: 'info.json, plain JSON asked', path: '/iiif/3/pyramid.tif/info.json', headers: { accept: 'application/json' } },
  { name: 'info.json, JSON-LD asked on 2.1', path: '/iiif/2/pyramid.tif/info.json', headers: { accept: 'application/ld+json, */*;q=0.1' } },
  { name: 'HEAD of a tile', path: '/iiif/3/pyramid.tif/0,0,256,256/256,256/0/default.jpg', method: 'HEAD' },
  { name: 'HEAD of info.json', path: '/iiif/3/pyramid.tif/info.json', method: 'HEAD' },
  { name: 'tile with an Origin', path: '/iiif/3/pyramid.tif/0,0,256,256/256,256/0/default.jpg', headers: { origin: 'https://viewer.example' } },
];

async function both(iiif: ReturnType<typeof build>, c: (typeof CASES)[number], extra: Record<string, string> = {}) {
  const headers = { host: 'images.example.org:8080', ...c.headers, ...extra };
  const method = c.method ?? 'GET';
  const pending = iiif.direct?.({ method, url: `${ORIGIN}${c.path}`, header: (name) => headers[name as keyof typeof headers] });
  expect(pending, `${c.name}: answered directly`).toBeDefined();
  const direct = (await pending) as DirectAnswer;
  expect(direct, `${c.name}: answered directly`).toBeDefined();
  const viaHono = await iiif.app.fetch(new Request(`${ORIGIN}${c.path}`, { method, headers }));
  return { direct, viaHono, honoBody: new Uint8Array(await viaHono.arrayBuffer()) };
}

describe('direct answers (Node) and the Hono routes give the same response', () => {
  for (const env of [{}, { IIIF_CORS_ALLOW_ORIGIN: 'https://viewer.example', IIIF_SECURITY_HEADERS: 'true', IIIF_CORS_ALLOW_CREDENTIALS: 'true' }]) {
    for (const c of CASES) {
      it(`${c.name} ${JSON.stringify(env)}`, async () => {
        const iiif = build(env);
        const { direct, viaHono, honoBody } = await both(iiif, c);
        expect(direct.status).toBe(viaHono.status);
        expect(normalise(direct.headers)).toEqual(normalise(viaHono.headers));
        expect(Buffer.from(direct.body ?? new Uint8Array())).toEqual(Buffer.from(honoBody));
        // The same log line and counters, durations aside.
        const [a, b] = iiif.records.map(({ durationMs: _d, sourceMs: _s, ...rest }) => rest);
        expect(iiif.records).toHaveLength(2);
        expect(a).toEqual(b);
        if (direct.body && c.path.endsWith('.jpg')) {
          const size = /\/(\d+),(\d*)\/0\//.exec(c.path);
          const meta = await sharp(direct.body).metadata();
          expect(meta.width).toBe(Number(size?.[1]));
          if (size?.[2]) expect(meta.height).toBe(Number(size[2]));
        }
      });
    }
  }

  it('answers 304 to a matching If-None-Match, as Hono does', async () => {
    const iiif = build();
    for (const c of [CASES[0]!, CASES[4]!]) {
      const first = await both(iiif, c);
      const etag = first.direct.headers.find(([n]) => n === 'ETag')?.[1] ?? '';
      expect(etag).toMatch(/^"[0-9a-f]{16}"$/);
      const { direct, viaHono } = await both(iiif, c, { 'if-none-match': etag });
      expect(direct.status).toBe(304);
      expect(viaHono.status).toBe(304);
      expect(direct.body).toBeUndefined();
      expect(normalise(direct.headers)).toEqual(normalise(viaHono.headers));
    }
  });

  it('answers If-Modified-Since and If-Match as Hono does (304, 412 left to Hono)', async () => {
    const iiif = build();
    for (const c of [CASES[0]!, CASES[4]!]) {
      const first = await both(iiif, c);
      const modified = first.direct.headers.find(([n]) => n === 'Last-Modified')?.[1] ?? '';
      expect(Date.parse(modified)).not.toBeNaN();
      const notModified = await both(iiif, c, { 'if-modified-since': modified });
      expect([notModified.direct.status, notModified.viaHono.status]).toEqual([304, 304]);
      expect(normalise(notModified.direct.headers)).toEqual(normalise(notModified.viaHono.headers));
      const headers: Record<string, string> = { host: 'images.example.org:8080', 'if-match': '"other"' };
      expect(await iiif.direct?.({ method: 'GET', url: `${ORIGIN}${c.path}`, header: (name) => headers[name] })).toBeUndefined();
      expect((await iiif.app.fetch(new Request(`${ORIGIN}${c.path}`, { headers }))).status).toBe(412);
    }
  });

  it('answers a request that outlives IIIF_REQUEST_TIMEOUT_MS with the same 503 as Hono', async () => {
    const iiif = build({ IIIF_REQUEST_TIMEOUT_MS: '50' }, 400);
    const { direct, viaHono, honoBody } = await both(iiif, CASES[0]!);
    expect(direct.status).toBe(503);
    expect(viaHono.status).toBe(503);
    // Hono's also times the stat still running when the timer fired; both carry the total.
    const { 'server-timing': directTiming, ...directHeaders } = normalise(direct.headers);
    const { 'server-timing': honoTiming, ...honoHeaders } = normalise(viaHono.headers);
    expect(directHeaders).toEqual(honoHeaders);
    expect(directTiming).toMatch(/total;dur=/);
    expect(honoTiming).toMatch(/total;dur=/);
    expect(Buffer.from(direct.body ?? new Uint8Array())).toEqual(Buffer.from(honoBody));
    const [a, b] = iiif.records.map(({ durationMs: _d, sourceMs: _s, ...rest }) => rest);
    expect(a).toEqual(b);
    expect(a?.servedBy).toBe('busy');
  });

  it('leaves renders, redirects, errors, query strings and encoded paths to Hono', async () => {
    const { direct } = build();
    const ask = (path: string, method = 'GET') => direct?.({ method, url: `${ORIGIN}${path}`, header: () => undefined });
    expect(await ask('/iiif/3/pyramid.tif/full/!200,200/0/default.jpg')).toBeUndefined();
    expect(await ask('/iiif/3/pyramid.tif/0,0,256,256/256,256/90/default.jpg')).toBeUndefined();
    expect(await ask('/iiif/3/pyramid.tif/0,0,256,256/256,256/0/default.png')).toBeUndefined();
    expect(await ask('/iiif/3/missing.tif/info.json')).toBeUndefined();
    expect(await ask('/iiif/3/pyramid.tif/bad/256,256/0/default.jpg')).toBeUndefined();
    expect(await ask('/iiif/3/colour-grid.png/info.json')).toBeDefined();
    expect(ask('/iiif/3/pyramid.tif')).toBeUndefined();
    expect(ask('/iiif/3/pyramid.tif/info.json?x=1')).toBeUndefined();
    expect(ask('/iiif/3/collection%2Fa.tif/info.json')).toBeUndefined();
    expect(ask('/iiif/3/pyramid.tif/info.json', 'POST')).toBeUndefined();
    expect(ask('/health')).toBeUndefined();
  });

  it('is off for remote sources and raw-slash identifiers', () => {
    const config = loadConfig({ IIIF_ROOT: ROOT, IIIF_RAW_SLASH_IDS: 'true' });
    expect(createIiif({ config, source: fsSource({ root: ROOT }) }).direct).toBeUndefined();
    const remote = { ...fsSource({ root: ROOT }), local: false };
    expect(createIiif({ config: loadConfig({ IIIF_ROOT: ROOT }), source: remote }).direct).toBeUndefined();
  });
});
