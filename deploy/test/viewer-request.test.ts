import fc from 'fast-check';
import { accepts } from 'hono/accepts';
import { describe, expect, it } from 'vitest';
import { VIEWER_REQUEST_SOURCE, viewerRequestSource } from '../lib/viewer-request.ts';

type Headers = Record<string, { value: string }>;
interface CfRequest { uri: string; method: string; headers: Headers; querystring: object; cookies: object }
const compile = (source: string) => new Function(`${source}\nreturn handler;`)() as (event: object) => CfRequest;
const handler = compile(VIEWER_REQUEST_SOURCE);

const DOMAIN = 'd111111abcdef8.cloudfront.net';
function run(uri: string, headers: Headers, fn = handler): CfRequest {
  return fn({
    version: '1.0',
    context: { distributionDomainName: DOMAIN, distributionId: 'EDFDVBD6EXAMPLE', eventType: 'viewer-request' },
    viewer: { ip: '192.0.2.1' },
    request: { method: 'GET', uri, headers, querystring: {}, cookies: {} },
  });
}

/** The app's info.json negotiation (src/routes/info.ts), with a marker for "no match: default". */
function decide(accept: string | undefined): string {
  const c = { req: { header: (name: string) => (name === 'Accept' ? accept : undefined) } };
  return accepts(c as never, { header: 'Accept', supports: ['application/ld+json', 'application/json'], default: 'DEFAULT' });
}

const INFO = '/iiif/3/some%2Fid/info.json';
const normalised = (accept: string | undefined) => run(INFO, accept === undefined ? {} : { accept: { value: accept } }).headers.accept?.value;

describe('viewer-request CloudFront Function', () => {
  it('sets x-forwarded-host to the distribution domain, overwriting what the client sent', () => {
    const request = run('/iiif/3/a/full/max/0/default.jpg', {
      host: { value: 'images.example.org' },
      'x-forwarded-host': { value: 'evil.example' },
    });
    expect(request.headers['x-forwarded-host']).toEqual({ value: DOMAIN });
    expect(request.headers.host).toEqual({ value: 'images.example.org' });
    expect(request.uri).toBe('/iiif/3/a/full/max/0/default.jpg');
  });

  it('removes client-sent x-preflight-* headers, which the app may be told to trust', () => {
    const spoofed = { 'x-preflight-location': { value: 's3://other-bucket/secret.tif' }, 'x-preflight-dimensions': { value: '{"width":1,"height":1}' } };
    const request = run('/iiif/3/a/info.json', { ...spoofed });
    expect(request.headers['x-preflight-location']).toBeUndefined();
    expect(request.headers['x-preflight-dimensions']).toBeUndefined();
    // A deployment's own preflight function runs after the strip and may set them.
    const own = compile(viewerRequestSource(`function preflight(event) {
  var id = event.request.uri.split('/')[3];
  event.request.headers['x-preflight-location'] = { value: 's3://my-images/pyramids/' + id + '.tif' };
}`));
    const set = run('/iiif/3/abc/info.json', { ...spoofed }, own);
    expect(set.headers['x-preflight-location']).toEqual({ value: 's3://my-images/pyramids/abc.tif' });
    expect(set.headers['x-preflight-dimensions']).toBeUndefined();
  });

  it('removes Accept outside info.json, so images have one cache entry', () => {
    const request = run('/iiif/2/a/0,0,512,512/512,/0/default.jpg', { accept: { value: 'image/avif,image/webp,*/*' } });
    expect(request.headers.accept).toBeUndefined();
  });

  it.each([
    [undefined, undefined],
    ['', undefined],
    ['*/*', undefined],
    ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', undefined],
    ['application/json', 'application/json'],
    ['application/ld+json;profile="http://iiif.io/api/image/3/context.json"', 'application/ld+json'],
    ['application/json;q=0.5, application/ld+json', 'application/ld+json'],
    ['application/ld+json;q=0.1, application/json', 'application/json'],
    ['application/*', 'application/ld+json'],
    ['application/*;q=0.9, application/ld+json;q=0.1', 'application/json'],
    ['APPLICATION/JSON', 'application/json'],
    ['application/json;q=0', undefined],
  ])('reduces Accept %j on info.json to %j', (accept, expected) => {
    expect(normalised(accept)).toBe(expected);
    expect(decide(normalised(accept))).toBe(decide(accept));
  });

  it('never changes the app\'s info.json decision (property test against hono accepts)', () => {
    const type = fc.constantFrom('application/json', 'application/ld+json', 'application/*', '*/*', '*', 'text/html',
      'image/webp', 'Application/LD+JSON', 'application/xml');
    const q = fc.option(fc.constantFrom('0', '0.1', '0.5', '0.9', '1', '', 'NaN', 'x', '2', '-1'), { nil: undefined });
    const profile = fc.option(fc.constant('profile="http://iiif.io/api/image/3/context.json"'), { nil: undefined });
    const range = fc.tuple(type, q, profile, fc.constantFrom('', ' ')).map(([t, qv, p, sp]) =>
      [t, p, qv === undefined ? undefined : `q=${qv}`].filter((x) => x !== undefined).join(`;${sp}`));
    fc.assert(
      fc.property(fc.array(range, { minLength: 1, maxLength: 5 }), fc.constantFrom(',', ', ', ' , '), (ranges, sep) => {
        const header = ranges.join(sep);
        expect(decide(normalised(header)), header).toBe(decide(header));
      }),
      { numRuns: 2000 },
    );
  });

  it('stays within CloudFront Functions limits (ES5 syntax, 10 KB)', () => {
    expect(VIEWER_REQUEST_SOURCE.length).toBeLessThan(10_240);
    expect(VIEWER_REQUEST_SOURCE).not.toMatch(/=>|\blet\b|\bconst\b|`/);
  });
});
