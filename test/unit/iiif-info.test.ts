import { describe, expect, it } from 'vitest';
import { EXTRA_FEATURES_3, FORMAT_MEDIA_TYPES, INFO_MEDIA_TYPES, PROFILE_URI } from '../../src/iiif/constants.ts';
import { buildInfo2, buildInfo3, type InfoInput } from '../../src/iiif/info.ts';
import { encodeIdentifier } from '../../src/iiif/path.ts';
import { deriveSizes, deriveTiles } from '../../src/iiif/tiles.ts';
import type { ImageGeometry, Limits } from '../../src/iiif/types.ts';

const geometry: ImageGeometry = { width: 3000, height: 2000 };
const base = `https://iiif.example.org/iiif/3/${encodeIdentifier('a/b.tif')}`;

function input(limits: Limits = {}, extra: Partial<InfoInput> = {}): InfoInput {
  return { id: base, geometry, limits, tiles: deriveTiles(geometry, 512), sizes: deriveSizes(geometry, limits), ...extra };
}

describe('buildInfo3', () => {
  it('has the required properties, @context first', () => {
    const info = buildInfo3(input());
    expect(Object.keys(info)[0]).toBe('@context');
    expect(info).toMatchObject({
      '@context': 'http://iiif.io/api/image/3/context.json',
      id: 'https://iiif.example.org/iiif/3/a%2Fb.tif',
      type: 'ImageService3',
      protocol: 'http://iiif.io/api/image',
      profile: 'level2',
      width: 3000,
      height: 2000,
      tiles: [{ width: 512, height: 512, scaleFactors: [1, 2, 4, 8] }],
      sizes: [
        { width: 375, height: 250 },
        { width: 750, height: 500 },
        { width: 1500, height: 1000 },
        { width: 3000, height: 2000 },
      ],
    });
    expect(info).not.toHaveProperty('maxWidth');
    expect(info).not.toHaveProperty('rights');
    expect(info).not.toHaveProperty('preferredFormats');
  });

  it('lists only what goes beyond level 2', () => {
    const info = buildInfo3(input());
    expect(info.extraFormats).toEqual(['webp', 'gif', 'tif', 'avif', 'jp2', 'pdf']);
    expect(info.extraQualities).toEqual(['color', 'gray', 'bitonal']);
    expect([...(info.extraFeatures as string[])].sort()).toEqual([
      'canonicalLinkHeader',
      'mirroring',
      'profileLinkHeader',
      'rotationArbitrary',
      'sizeUpscaling',
    ]);
  });

  it('never lists a feature level 2 already requires (3.0 compliance tables)', () => {
    const level2 = ['baseUriRedirect', 'cors', 'jsonldMediaType', 'regionByPct', 'regionByPx', 'regionSquare', 'rotationBy90s', 'sizeByConfinedWh', 'sizeByH', 'sizeByPct', 'sizeByW', 'sizeByWh'];
    expect(EXTRA_FEATURES_3.filter((f) => level2.includes(f))).toEqual([]);
  });

  it('advertises a lone maxWidth or maxHeight for both axes', () => {
    expect(buildInfo3(input({ maxWidth: 2000 }))).toMatchObject({ maxWidth: 2000, maxHeight: 2000 });
    expect(buildInfo3(input({ maxHeight: 1500 }))).toMatchObject({ maxWidth: 1500, maxHeight: 1500 });
    const both = buildInfo3(input({ maxWidth: 2000, maxHeight: 1000, maxArea: 1_000_000 }));
    expect(both).toMatchObject({ maxWidth: 2000, maxHeight: 1000, maxArea: 1_000_000 });
    const areaOnly = buildInfo3(input({ maxArea: 1_000_000 }));
    expect(areaOnly.maxArea).toBe(1_000_000);
    expect(areaOnly).not.toHaveProperty('maxWidth');
    expect(areaOnly).not.toHaveProperty('maxHeight');
  });

  it('includes rights and preferredFormats when configured', () => {
    const info = buildInfo3(input({}, { rights: 'http://creativecommons.org/licenses/by/4.0/', preferredFormats: ['webp', 'jpg'] }));
    expect(info.rights).toBe('http://creativecommons.org/licenses/by/4.0/');
    expect(info.preferredFormats).toEqual(['webp', 'jpg']);
    expect(buildInfo3(input({}, { rights: undefined, preferredFormats: [] }))).not.toHaveProperty('preferredFormats');
  });

  it('survives JSON serialisation unchanged', () => {
    const info = buildInfo3(input({ maxWidth: 2000 }));
    expect(JSON.parse(JSON.stringify(info))).toEqual(info);
  });
});

describe('buildInfo2', () => {
  it('has the 2.1 shape with a level2 profile description', () => {
    const info = buildInfo2(input({ maxWidth: 2000 }, { id: 'https://x/iiif/2/a%2Fb.tif', rights: 'http://rightsstatements.org/vocab/InC/1.0/' }));
    expect(Object.keys(info)[0]).toBe('@context');
    expect(info).toMatchObject({
      '@context': 'http://iiif.io/api/image/2/context.json',
      '@id': 'https://x/iiif/2/a%2Fb.tif',
      protocol: 'http://iiif.io/api/image',
      width: 3000,
      height: 2000,
      license: 'http://rightsstatements.org/vocab/InC/1.0/',
      tiles: [{ width: 512, height: 512, scaleFactors: [1, 2, 4, 8] }],
    });
    expect(info).not.toHaveProperty('id');
    expect(info).not.toHaveProperty('type');
    const [uri, description] = info.profile as [string, Record<string, unknown>];
    expect(uri).toBe('http://iiif.io/api/image/2/level2.json');
    expect(description).toMatchObject({
      formats: ['jpg', 'png', 'webp', 'gif', 'tif', 'avif', 'jp2', 'pdf'],
      qualities: ['default', 'color', 'gray', 'bitonal'],
      maxWidth: 2000,
      maxHeight: 2000,
    });
    expect(description.supports).toEqual(expect.arrayContaining(['sizeAboveFull', 'mirroring', 'rotationArbitrary', 'regionSquare']));
    expect(description.supports).not.toContain('sizeUpscaling');
  });
});

describe('constants', () => {
  it('maps formats to media types', () => {
    expect(FORMAT_MEDIA_TYPES).toEqual({
      jpg: 'image/jpeg',
      png: 'image/png',
      webp: 'image/webp',
      gif: 'image/gif',
      tif: 'image/tiff',
      avif: 'image/avif',
      // IIIF 3.0 §4.5's media types.
      jp2: 'image/jp2',
      pdf: 'application/pdf',
    });
  });

  it('says level 0 without a renderer: no extra formats or features, JPEG in default and colour only, no preferred formats', () => {
    const v3 = buildInfo3(input({}, { level: 0, preferredFormats: ['webp'] }));
    expect(v3).toMatchObject({ profile: 'level0', extraQualities: ['color'] });
    for (const key of ['extraFormats', 'extraFeatures', 'preferredFormats']) expect(v3, key).not.toHaveProperty(key);
    expect(buildInfo2(input({ maxWidth: 800 }, { level: 0 })).profile).toEqual([
      'http://iiif.io/api/image/2/level0.json',
      { formats: ['jpg'], qualities: ['default', 'color'], maxWidth: 800, maxHeight: 800 },
    ]);
  });

  it('has the profile URIs and info.json media types per version', () => {
    expect(PROFILE_URI).toEqual({
      3: { 2: 'http://iiif.io/api/image/3/level2.json', 0: 'http://iiif.io/api/image/3/level0.json' },
      2: { 2: 'http://iiif.io/api/image/2/level2.json', 0: 'http://iiif.io/api/image/2/level0.json' },
    });
    expect(INFO_MEDIA_TYPES[3].default).toBe('application/ld+json;profile="http://iiif.io/api/image/3/context.json"');
    expect(INFO_MEDIA_TYPES[2].default).toBe('application/json');
  });
});
