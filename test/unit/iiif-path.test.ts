import { describe, expect, it } from 'vitest';
import { encodeIdentifier, splitIiifPath, splitRawSlashPath } from '../../src/iiif/path.ts';
import { parseImageRequest } from '../../src/iiif/request.ts';
import { expectHttpError } from './iiif-expect.ts';

describe('splitIiifPath', () => {
  it('treats a single segment as the base URI', () => {
    expect(splitIiifPath('abc.tif')).toEqual({ kind: 'base', identifier: 'abc.tif' });
    expect(splitIiifPath('a%2Fb.tif')).toEqual({ kind: 'base', identifier: 'a/b.tif' });
  });

  it('recognises info.json and keeps %2F inside one identifier', () => {
    expect(splitIiifPath('a%2Fb.tif/info.json')).toEqual({ kind: 'info', identifier: 'a/b.tif' });
    expect(splitIiifPath('a%2fb%20c.tif/info.json')).toEqual({ kind: 'info', identifier: 'a/b c.tif' });
  });

  it('splits an image request and cuts quality.format on the last dot', () => {
    expect(splitIiifPath('a%2Fb.tif/full/max/0/default.jpg')).toEqual({
      kind: 'image',
      identifier: 'a/b.tif',
      params: { region: 'full', size: 'max', rotation: '0', quality: 'default', format: 'jpg' },
    });
    const p = splitIiifPath('x/125,15,120,140/!225,100/!22.5/gray.png');
    expect(p).toEqual({
      kind: 'image',
      identifier: 'x',
      params: { region: '125,15,120,140', size: '!225,100', rotation: '!22.5', quality: 'gray', format: 'png' },
    });
  });

  it('decodes percent-encoded parameter characters', () => {
    const p = splitIiifPath('x/pct%3A10,10,10,10/%5Emax/%2190/default.jpg');
    expect(p.kind === 'image' && p.params).toEqual({ region: 'pct:10,10,10,10', size: '^max', rotation: '!90', quality: 'default', format: 'jpg' });
  });

  it('answers 404 for an unencoded slash before info.json', () => {
    expectHttpError(() => splitIiifPath('a/b/info.json'), 404, 'not_found');
    expectHttpError(() => splitIiifPath('a/b/c/info.json'), 404, 'not_found');
  });

  it('answers 400 with the expected form for 2 to 4 segments', () => {
    for (const path of ['abc/full', 'abc//', 'abc/full/max', 'abc/full/max/0', 'abc/info.jsonx']) {
      const err = expectHttpError(() => splitIiifPath(path), 400, 'bad_request');
      expect(err.message).toContain('{region}/{size}/{rotation}/{quality}.{format}');
    }
  });

  it('takes the base URI with a trailing slash as the base URI', () => {
    expect(splitIiifPath('abc/')).toEqual({ kind: 'base', identifier: 'abc' });
    expect(splitIiifPath('a%2Fb/')).toEqual({ kind: 'base', identifier: 'a/b' });
    expect(splitRawSlashPath('abc/')).toEqual({ kind: 'base', identifier: 'abc' });
  });

  it('answers 404 for extra segments when the last four are a valid request', () => {
    expectHttpError(() => splitIiifPath('a/b/full/max/0/default.jpg'), 404, 'not_found');
    expectHttpError(() => splitIiifPath('a/b/c/d/0,0,10,10/^pct:50/!90/gray.webp'), 404, 'not_found');
    // jp2 is valid syntax we do not render: still a valid tail.
    expectHttpError(() => splitIiifPath('a/b/full/max/0/default.jp2'), 404, 'not_found');
  });

  it('answers 400 for extra segments when the tail is not a valid request', () => {
    expectHttpError(() => splitIiifPath('a/b/junk/max/0/default.jpg'), 400, 'bad_region');
    expectHttpError(() => splitIiifPath('a/b/full/max/0/default.bmp'), 400, 'bad_format');
    // WHATWG URL parsing turns `max\x` into `max/x`: six segments with a junk tail.
    expectHttpError(() => splitIiifPath('id/full/max/x/0/default.jpg'), 400, 'bad_region');
  });

  it('judges the tail with the version given, or either version', () => {
    const path = 'a/b/full/full/0/default.jpg';
    expectHttpError(() => splitIiifPath(path, { version: 2 }), 404, 'not_found');
    expectHttpError(() => splitIiifPath(path, { version: 3 }), 400, 'bad_size');
    expectHttpError(() => splitIiifPath(path), 404, 'not_found');
  });

  it('leaves junk in the five parameter segments to parseImageRequest (400)', () => {
    const p = splitIiifPath('id/full/max\\x/0/default.jpg');
    expect(p.kind).toBe('image');
    if (p.kind === 'image') expectHttpError(() => parseImageRequest(3, p.params), 400, 'bad_size');
    expectHttpError(() => splitIiifPath('id/full/max/0/default'), 400, 'bad_format');
  });

  it.each([
    ['..', 'base'],
    ['.', 'base'],
    ['../info.json', 'info'],
    ['%2e%2e/info.json', 'info'],
    ['%2E%2E%2Fetc%2Fpasswd/info.json', 'info'],
    ['a%2F..%2Fb/info.json', 'info'],
    ['a%2F.%2Fb/info.json', 'info'],
    ['a%2F..', 'base'],
    ['%2Fetc%2Fpasswd/info.json', 'info'],
    ['..%5Cwindows/info.json', 'info'],
    ['a%5Cb/full/max/0/default.jpg', 'image'],
    ['..%2F..%2Fx/full/max/0/default.jpg', 'image'],
  ])('rejects traversal in %s with 400 bad_identifier', (path) => {
    const err = expectHttpError(() => splitIiifPath(path), 400, 'bad_identifier');
    expect(err.message).toContain('identifier');
  });

  it('says why for relative segments', () => {
    expect(expectHttpError(() => splitIiifPath('%2e%2e/info.json'), 400, 'bad_identifier').message).toContain(
      'identifier may not contain relative path segments',
    );
  });

  it('allows dots that are not path segments', () => {
    expect(splitIiifPath('a..b.tif/info.json')).toEqual({ kind: 'info', identifier: 'a..b.tif' });
    expect(splitIiifPath('.hidden%2F...tif/info.json')).toEqual({ kind: 'info', identifier: '.hidden/...tif' });
  });

  it.each(['a%00b/info.json', '%00', 'a%0Ab/info.json', 'a%7Fb/info.json', 'a%C2%85b/info.json', 'a\tb/info.json'])(
    'rejects control characters in %j with 400 bad_identifier',
    (path) => {
      const err = expectHttpError(() => splitIiifPath(path), 400, 'bad_identifier');
      expect(err.message).not.toMatch(/\p{Cc}/u);
    },
  );

  it('rejects bad percent-escapes with 400', () => {
    expectHttpError(() => splitIiifPath('%zz/info.json'), 400, 'bad_identifier');
    expectHttpError(() => splitIiifPath('%E0%A4%A/info.json'), 400, 'bad_identifier');
    expectHttpError(() => splitIiifPath('a%/info.json'), 400, 'bad_identifier');
    expectHttpError(() => splitIiifPath('id/full/%zz/0/default.jpg'), 400, 'bad_request');
  });

  it('rejects empty and over-long identifiers with 400', () => {
    expectHttpError(() => splitIiifPath(''), 400, 'bad_identifier');
    expectHttpError(() => splitIiifPath('/info.json'), 400, 'bad_identifier');
    expect(splitIiifPath(`${'a'.repeat(1024)}/info.json`)).toEqual({ kind: 'info', identifier: 'a'.repeat(1024) });
    const err = expectHttpError(() => splitIiifPath(`${'a'.repeat(1025)}/info.json`), 400, 'bad_identifier');
    expect(err.message.length).toBeLessThan(150);
  });

  it('maps the slash substitute to / and validates the result', () => {
    const opts = { slashSubstitute: '_SL_' };
    expect(splitIiifPath('a_SL_b_SL_c.tif/info.json', opts)).toEqual({ kind: 'info', identifier: 'a/b/c.tif' });
    expect(splitIiifPath('a_SL_b.tif/full/max/0/default.jpg', opts).identifier).toBe('a/b.tif');
    expect(splitIiifPath('a_SL_b.tif/info.json').identifier).toBe('a_SL_b.tif');
    expectHttpError(() => splitIiifPath('_SL_etc_SL_passwd/info.json', opts), 400, 'bad_identifier');
    expectHttpError(() => splitIiifPath('.._SL_x/info.json', opts), 400, 'bad_identifier');
  });
});

describe('encodeIdentifier', () => {
  it('encodes every reserved character, / included', () => {
    expect(encodeIdentifier('a/b.tif')).toBe('a%2Fb.tif');
    expect(encodeIdentifier('x?y#z[1]@%')).toBe('x%3Fy%23z%5B1%5D%40%25');
    expect(encodeIdentifier('plain-id_1.jpg')).toBe('plain-id_1.jpg');
    expect(encodeIdentifier('é ü')).toBe('%C3%A9%20%C3%BC');
  });

  it('round-trips through splitIiifPath', () => {
    for (const id of ['a/b.tif', 'x?y#z[1]@%', 'dir/sub dir/ümlaut.jp2', 'a%2Fb']) {
      expect(splitIiifPath(`${encodeIdentifier(id)}/info.json`)).toEqual({ kind: 'info', identifier: id });
    }
  });
});
