import { describe, expect, it } from 'vitest';
import { parseFormat, parseQuality, splitQualityFormat } from '../../src/iiif/quality-format.ts';
import { parseRegion } from '../../src/iiif/region.ts';
import { parseImageRequest } from '../../src/iiif/request.ts';
import { parseRotation } from '../../src/iiif/rotation.ts';
import { parseSize } from '../../src/iiif/size.ts';
import { expectHttpError } from './iiif-expect.ts';

describe('region (2.1 and 3.0 share the syntax)', () => {
  it.each([
    ['full', { kind: 'full' }],
    ['square', { kind: 'square' }],
    ['125,15,120,140', { kind: 'px', x: 125, y: 15, w: 120, h: 140 }],
    ['0,0,1,1', { kind: 'px', x: 0, y: 0, w: 1, h: 1 }],
    ['007,0,10,10', { kind: 'px', x: 7, y: 0, w: 10, h: 10 }],
    ['pct:41.6,7.5,40,70', { kind: 'pct', x: 41.6, y: 7.5, w: 40, h: 70 }],
    ['pct:0,0,100,100', { kind: 'pct', x: 0, y: 0, w: 100, h: 100 }],
    ['pct:.5,0,0.25,150', { kind: 'pct', x: 0.5, y: 0, w: 0.25, h: 150 }],
  ])('parses %s', (raw, expected) => {
    expect(parseRegion(raw)).toEqual(expected);
  });

  it.each([
    '',
    'FULL',
    'Full',
    'max',
    '1,2,3',
    '1,2,3,4,5',
    '1,2,3,',
    '-1,2,3,4',
    '+1,2,3,4',
    '1e3,2,3,4',
    '0x10,2,3,4',
    ' 1,2,3,4',
    '1,2,3,4 ',
    '1.5,2,3,4',
    '1,2,0,4',
    '1,2,3,0',
    '1234567890,0,10,10',
    'pct:1,2,3',
    'pct:1,2,0,4',
    'pct:1,2,3,0.0',
    'pct:NaN,1,1,1',
    'pct:Infinity,1,1,1',
    'pct:-0,1,1,1',
    'pct:5.,1,1,1',
    'pct:1e2,1,1,1',
    'pct:',
    'squares',
  ])('rejects %j with 400 bad_region', (raw) => {
    expectHttpError(() => parseRegion(raw), 400, 'bad_region');
  });

  it('names the segment and the value, and says why for zero sizes', () => {
    const err = expectHttpError(() => parseRegion('1,2,0,4'), 400, 'bad_region');
    expect(err.message).toContain('region');
    expect(err.message).toContain('1,2,0,4');
    expect(err.message).toContain('greater than zero');
  });

  it('sanitises echoed values: control characters shown as \\u escapes, not sent or dropped; truncated', () => {
    const err = expectHttpError(() => parseRegion(`bad\u0000\u001b[31m${'x'.repeat(100)}`), 400, 'bad_region');
    expect(err.message).not.toMatch(/\p{Cc}/u);
    expect(err.message).toContain('bad\\u0000\\u001b[31m');
    expect(err.message.length).toBeLessThan(160);
    // A format with a NUL after it is not echoed as the valid format it looks like.
    const format = expectHttpError(() => parseImageRequest(3, { region: 'full', size: 'max', rotation: '0', quality: 'default', format: 'jpg\u0000' }), 400, 'bad_format');
    expect(format.message).toContain('jpg\\u0000');
  });
});

describe('size 3.0', () => {
  it.each([
    ['max', { kind: 'max', upscale: false }],
    ['^max', { kind: 'max', upscale: true }],
    ['150,', { kind: 'w', w: 150, upscale: false }],
    ['^360,', { kind: 'w', w: 360, upscale: true }],
    [',150', { kind: 'h', h: 150, upscale: false }],
    ['^,240', { kind: 'h', h: 240, upscale: true }],
    ['pct:50', { kind: 'pct', pct: 50, upscale: false }],
    ['pct:100', { kind: 'pct', pct: 100, upscale: false }],
    ['pct:12.5', { kind: 'pct', pct: 12.5, upscale: false }],
    ['^pct:120', { kind: 'pct', pct: 120, upscale: true }],
    ['225,100', { kind: 'wh', w: 225, h: 100, upscale: false }],
    ['^360,360', { kind: 'wh', w: 360, h: 360, upscale: true }],
    ['!225,100', { kind: 'confined', w: 225, h: 100, upscale: false }],
    ['^!360,360', { kind: 'confined', w: 360, h: 360, upscale: true }],
  ])('parses %s', (raw, expected) => {
    expect(parseSize(3, raw)).toEqual(expected);
  });

  it('rejects full (2.1 only) with a hint to use max', () => {
    const err = expectHttpError(() => parseSize(3, 'full'), 400, 'bad_size');
    expect(err.message).toContain('max');
  });

  it.each([
    'pct:120',
    'pct:100.5',
    'pct:0',
    '^pct:0',
    '0,',
    ',0',
    '0,10',
    '10,0',
    '!0,10',
    '^',
    '^^max',
    '!^10,10',
    '^full',
    'max,',
    'MAX',
    '150',
    ',',
    '1e3,',
    '-5,',
    '+5,',
    '5.5,',
    ',5.5',
    'pct:',
    'pct:-1',
    'pct:1e1',
    'pct:NaN',
    '10000000000,',
    '!10,',
    ' 10,',
  ])('rejects %j with 400 bad_size', (raw) => {
    expectHttpError(() => parseSize(3, raw), 400, 'bad_size');
  });
});

describe('size 2.1', () => {
  it.each([
    ['full', { kind: 'full' }],
    ['max', { kind: 'max', upscale: false }],
    ['150,', { kind: 'w', w: 150, upscale: true }],
    [',150', { kind: 'h', h: 150, upscale: true }],
    ['pct:50', { kind: 'pct', pct: 50, upscale: true }],
    ['pct:120', { kind: 'pct', pct: 120, upscale: true }],
    ['225,100', { kind: 'wh', w: 225, h: 100, upscale: true }],
    ['!225,100', { kind: 'confined', w: 225, h: 100, upscale: true }],
  ])('parses %s', (raw, expected) => {
    expect(parseSize(2, raw)).toEqual(expected);
  });

  it.each(['^max', '^150,', '^pct:50', '^!10,10', 'pct:0', '0,', 'junk', ''])('rejects %j with 400 bad_size', (raw) => {
    expectHttpError(() => parseSize(2, raw), 400, 'bad_size');
  });
});

describe('rotation', () => {
  it.each([
    ['0', { mirror: false, degrees: 0 }],
    ['90', { mirror: false, degrees: 90 }],
    ['180', { mirror: false, degrees: 180 }],
    ['270', { mirror: false, degrees: 270 }],
    ['360', { mirror: false, degrees: 360 }],
    ['22.5', { mirror: false, degrees: 22.5 }],
    ['0.5', { mirror: false, degrees: 0.5 }],
    ['.5', { mirror: false, degrees: 0.5 }],
    ['359.99', { mirror: false, degrees: 359.99 }],
    ['!0', { mirror: true, degrees: 0 }],
    ['!180', { mirror: true, degrees: 180 }],
    ['!345.5', { mirror: true, degrees: 345.5 }],
  ])('parses %s', (raw, expected) => {
    expect(parseRotation(raw)).toEqual(expected);
  });

  it.each(['361', '360.1', '-90', '-0', '+90', '1e2', 'NaN', 'Infinity', '!!90', '90!', '', '!', ' 90', '0x10', '5.', '90deg', '1234567890'])(
    'rejects %j with 400 bad_rotation',
    (raw) => {
      expectHttpError(() => parseRotation(raw), 400, 'bad_rotation');
    },
  );

  it('explains the range', () => {
    expect(expectHttpError(() => parseRotation('361'), 400, 'bad_rotation').message).toContain('between 0 and 360');
  });
});

describe('quality and format', () => {
  it.each(['default', 'color', 'gray', 'bitonal'])('accepts quality %s', (q) => {
    expect(parseQuality(q)).toBe(q);
  });

  it.each(['native', 'Default', 'grey', 'colour', ''])('rejects quality %j with 400 bad_quality', (q) => {
    expectHttpError(() => parseQuality(q), 400, 'bad_quality');
  });

  // Every format of IIIF 3.0 §4.5, plus avif.
  it.each(['jpg', 'png', 'webp', 'gif', 'tif', 'avif', 'jp2', 'pdf'])('accepts format %s', (f) => {
    expect(parseFormat(f)).toBe(f);
  });

  it.each(['jpeg', 'JPG', 'tiff', 'bmp', 'svg', ''])('rejects format %j with 400 bad_format', (f) => {
    expectHttpError(() => parseFormat(f), 400, 'bad_format');
  });

  it('splits quality and format on the last dot', () => {
    expect(splitQualityFormat('default.jpg')).toEqual({ quality: 'default', format: 'jpg' });
    expect(splitQualityFormat('a.b.png')).toEqual({ quality: 'a.b', format: 'png' });
    expectHttpError(() => splitQualityFormat('default'), 400, 'bad_format');
  });
});

describe('parseImageRequest', () => {
  const params = { region: 'full', size: 'max', rotation: '0', quality: 'default', format: 'jpg' };

  it('builds a complete request', () => {
    expect(parseImageRequest(3, { region: 'pct:10,10,50,50', size: '^!400,300', rotation: '!90', quality: 'gray', format: 'webp' })).toEqual({
      version: 3,
      region: { kind: 'pct', x: 10, y: 10, w: 50, h: 50 },
      size: { kind: 'confined', w: 400, h: 300, upscale: true },
      rotation: { mirror: true, degrees: 90 },
      quality: 'gray',
      format: 'webp',
    });
  });

  it('applies the version to the size syntax', () => {
    expect(parseImageRequest(2, { ...params, size: 'full' }).size).toEqual({ kind: 'full' });
    expectHttpError(() => parseImageRequest(3, { ...params, size: 'full' }), 400, 'bad_size');
  });

  it('reports errors per segment, checking format last', () => {
    expectHttpError(() => parseImageRequest(3, { ...params, region: 'nope', format: 'jp2' }), 400, 'bad_region');
    expectHttpError(() => parseImageRequest(3, { ...params, size: 'nope' }), 400, 'bad_size');
    expectHttpError(() => parseImageRequest(3, { ...params, rotation: '400' }), 400, 'bad_rotation');
    expectHttpError(() => parseImageRequest(3, { ...params, quality: 'nope' }), 400, 'bad_quality');
    expectHttpError(() => parseImageRequest(3, { ...params, format: 'nope' }), 400, 'bad_format');
    expect(parseImageRequest(3, { ...params, format: 'pdf' }).format).toBe('pdf');
  });
});

describe('segments parsed before (the memo in parseSegment)', () => {
  it('answer the same frozen value, per version, and a bad segment is refused every time', () => {
    const first = parseSize(3, '256,');
    expect(first).toEqual({ kind: 'w', w: 256, upscale: false });
    expect(parseSize(3, '256,')).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    // 2.1 reads the same text differently (upscaling implicit): kept apart.
    expect(parseSize(2, '256,')).toEqual({ kind: 'w', w: 256, upscale: true });
    expect(parseSize(3, '^256,')).toEqual({ kind: 'w', w: 256, upscale: true });
    for (let i = 0; i < 2; i++) expect(expectHttpError(() => parseSize(3, 'full'), 400, 'bad_size').message).toMatch(/"full" is not a 3.0 size/);
    for (let i = 0; i < 2; i++) expect(expectHttpError(() => parseRegion('0,0,0,10'), 400, 'bad_region').message).toMatch(/greater than zero/);
  });

  it('stay right past the memo’s size (it starts again empty)', () => {
    for (let round = 0; round < 2; round++) {
      for (let i = 1; i <= 600; i++) expect(parseRegion(`${i},0,${i},7`)).toEqual({ kind: 'px', x: i, y: 0, w: i, h: 7 });
    }
  });
});
