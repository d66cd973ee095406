// First: lambda-local's `awslambda` streaming polyfill, which createHandlers needs.
import { functionUrlEvent, streamingFetcher } from '../helpers/lambda-events.ts';
import { fileURLToPath } from 'node:url';
import { handle } from 'hono/aws-lambda';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { createHandlers, createLambdaApp } from '../../adapters/lambda/lambda-app.ts';
import type { APIGatewayProxyEventV2 } from '../../adapters/lambda/event-guard.ts';
import type { Env } from '../../src/config.ts';

// The bundled 6000×4000 JPEG-tiled pyramid (256² tiles), served from a folder (fs source).
const ENV: Env = { IIIF_SOURCE: 'fs', IIIF_ROOT: fileURLToPath(new URL('../../adapters/node/samples/', import.meta.url)), IIIF_LOG_LEVEL: 'silent' };

const CASES: Array<{ name: string; path: string; method?: string; headers?: Record<string, string> }> = [
  { name: 'aligned tile, 3.0', path: '/iiif/3/pyramid.tif/256,512,256,256/256,256/0/default.jpg' },
  { name: 'aligned tile at scale factor 4, 2.1', path: '/iiif/2/pyramid.tif/1024,0,1024,1024/256,/0/default.jpg' },
  { name: 'right edge tile (cropped)', path: '/iiif/3/pyramid.tif/5888,0,112,256/112,256/0/default.jpg' },
  { name: 'smallest level, one pixel over', path: '/iiif/3/pyramid.tif/full/188,126/0/default.jpg' },
  { name: 'info.json 3.0', path: '/iiif/3/pyramid.tif/info.json' },
  { name: 'info.json 2.1, JSON-LD asked', path: '/iiif/2/pyramid.tif/info.json', headers: { accept: 'application/ld+json' } },
  { name: 'info.json behind a proxy', path: '/iiif/3/pyramid.tif/info.json', headers: { 'x-forwarded-host': 'images.example.org' } },
  { name: 'HEAD of a tile', path: '/iiif/3/pyramid.tif/0,0,256,256/256,256/0/default.jpg', method: 'HEAD' },
  { name: 'HEAD of info.json', path: '/iiif/3/pyramid.tif/info.json', method: 'HEAD' },
  { name: 'tile with an Origin', path: '/iiif/3/pyramid.tif/0,0,256,256/256,256/0/default.jpg', headers: { origin: 'https://viewer.example' } },
  { name: 'a render (left to Hono)', path: '/iiif/3/pyramid.tif/full/120,80/0/default.jpg' },
  { name: 'a missing image (left to Hono)', path: '/iiif/3/missing.tif/info.json' },
];

/** Server-Timing durations differ between any two answers, and a render may or may not have queued. */
const timing = (value: unknown) => String(value).replace(/queue;[^,]*,/, '').replace(/dur=[\d.]+/g, 'dur=#');
const normalise = (headers: Record<string, unknown> | undefined) =>
  Object.fromEntries(Object.entries(headers ?? {}).map(([name, value]) => [name, name === 'server-timing' ? timing(value) : value]));

/** Events AWS does not send but other invokers may: header names not lower-cased, values padded, odd hosts (found by review). */
const ODD: Array<{ name: string; env?: Env; path: string; headers?: Record<string, string>; domainName?: string }> = [
  { name: 'If-None-Match spelled in mixed case', path: '/iiif/3/pyramid.tif/info.json', headers: { 'If-None-Match': '*' } },
  { name: 'Origin spelled in mixed case, with an allow-list', env: { IIIF_CORS_ALLOW_ORIGIN: 'https://viewer.example' }, path: '/iiif/3/pyramid.tif/info.json', headers: { Origin: 'https://viewer.example' } },
  { name: 'X-Forwarded-Host spelled in mixed case, trusted', env: { IIIF_TRUST_FORWARDED: 'true' }, path: '/iiif/3/pyramid.tif/info.json', headers: { 'X-Forwarded-Host': 'images.example.org' } },
  { name: 'an Origin padded with spaces', env: { IIIF_CORS_ALLOW_ORIGIN: 'https://viewer.example' }, path: '/iiif/3/pyramid.tif/0,0,256,256/256,/0/default.jpg', headers: { origin: ' https://viewer.example ' } },
  { name: 'a reflected Origin ending in a tab', env: { IIIF_CORS_ALLOW_ORIGIN: 'REFLECT_ORIGIN' }, path: '/iiif/3/pyramid.tif/info.json', headers: { origin: 'https://v.example\t' } },
  { name: 'a host the URL parser rewrites (127.1)', path: '/iiif/3/pyramid.tif/info.json', domainName: '127.1' },
  { name: 'a host the URL parser refuses (foo.1)', path: '/iiif/3/pyramid.tif/info.json', domainName: 'foo.1' },
  { name: 'a host the URL parser refuses (xn--abc)', path: '/iiif/3/pyramid.tif/info.json', domainName: 'xn--abc' },
];

describe('Lambda adapter with a local folder: odd events get the answers hono\'s adapter gives', () => {
  for (const c of ODD) {
    it(c.name, async () => {
      const env = { ...ENV, ...c.env };
      const event = functionUrlEvent(c.path) as APIGatewayProxyEventV2;
      // functionUrlEvent lower-cases names: these keep their spelling.
      Object.assign(event.headers ?? {}, c.headers);
      if (c.domainName) event.requestContext.domainName = c.domainName;
      const ours = await createHandlers(env).handler(event);
      const theirs = await handle(createLambdaApp(env).app)(event);
      expect(ours.statusCode).toBe(theirs.statusCode);
      expect(normalise(ours.headers)).toEqual(normalise(theirs.headers));
      expect(ours.body).toBe(theirs.body);
    });
  }
});

describe('Lambda adapter with a local folder: answers made without Hono equal those made through it', () => {
  for (const env of [ENV, { ...ENV, IIIF_CORS_ALLOW_ORIGIN: 'https://viewer.example', IIIF_SECURITY_HEADERS: 'true' }]) {
    const { handler, streamHandler } = createHandlers(env);
    const viaHono = handle(createLambdaApp(env).app);
    for (const c of CASES) {
      it(`${c.name} ${JSON.stringify(env).length > 120 ? '(CORS, security headers)' : ''}`, async () => {
        const init = { method: c.method ?? 'GET', headers: c.headers ?? {} };
        const event = functionUrlEvent(c.path, init) as APIGatewayProxyEventV2;
        const ours = await handler(event);
        const theirs = await viaHono(event);
        expect(ours.statusCode).toBe(theirs.statusCode);
        expect(normalise(ours.headers)).toEqual(normalise(theirs.headers));
        expect(ours.isBase64Encoded).toBe(theirs.isBase64Encoded);
        expect(ours.body).toBe(theirs.body);
        // The streaming mode sends the same status, headers and bytes.
        const streamed = await streamingFetcher(streamHandler)(c.path, init);
        expect(streamed.status).toBe(theirs.statusCode);
        const body = Buffer.from(await streamed.arrayBuffer());
        expect(body).toEqual(Buffer.from(theirs.body, theirs.isBase64Encoded ? 'base64' : 'utf8'));
        expect(normalise(Object.fromEntries(streamed.headers))).toEqual(normalise(theirs.headers));
        if (c.path.endsWith('.jpg') && init.method === 'GET' && ours.statusCode === 200) {
          const size = /\/(\d+),(\d*)\/0\//.exec(c.path);
          const meta = await sharp(body).metadata();
          expect(meta.width).toBe(Number(size?.[1]));
          if (size?.[2]) expect(meta.height).toBe(Number(size[2]));
        }
      });
    }
  }
});
