import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { requestUrl } from '../../src/http/request-url.ts';

const viaUrl = (href: string) => {
  const u = new URL(href);
  return { scheme: u.protocol.slice(0, -1), host: u.host, pathname: u.pathname };
};

describe('requestUrl', () => {
  it('agrees with new URL() on serialised request URLs', () => {
    fc.assert(
      fc.property(fc.webUrl({ withQueryParameters: true, withFragments: false }), (raw) => {
        const href = new URL(raw).href;
        expect(requestUrl(href)).toEqual(viaUrl(href));
      }),
      { numRuns: 2_000, seed: 20_240_605 },
    );
  });

  it('keeps percent-encoding, ports and IPv6 hosts as the URL serialises them', () => {
    for (const href of [
      'http://127.0.0.1:8080/iiif/3/a%2Fb.tif/info.json',
      'https://images.example.org/iiif/3/a%2Fb.tif/full/max/0/default.jpg?x=%2F/y',
      'http://[::1]:9000/iiif/2/x.png/info.json',
      'http://example.org/',
      'http://example.org/?only=query',
    ]) {
      expect(requestUrl(href)).toEqual(viaUrl(href));
    }
  });
});
