import { describe, expect, it } from 'vitest';
import { emitIdentifier, splitRawSlashPath } from '../../src/iiif/path.ts';
import { expectHttpError } from './iiif-expect.ts';

describe('splitRawSlashPath (IIIF_RAW_SLASH_IDS)', () => {
  it('takes everything before info.json or the four-segment tail as the identifier', () => {
    expect(splitRawSlashPath('clioimg/sho/info.json', { version: 2 })).toEqual({ kind: 'info', identifier: 'clioimg/sho' });
    expect(splitRawSlashPath('a/b%2Fc/d.tif/full/max/0/default.jpg', { version: 3 })).toEqual({
      kind: 'image', identifier: 'a/b/c/d.tif', params: { region: 'full', size: 'max', rotation: '0', quality: 'default', format: 'jpg' },
    });
    expect(splitRawSlashPath('x.tif/info.json')).toEqual({ kind: 'info', identifier: 'x.tif' });
    expect(splitRawSlashPath('x.tif')).toEqual({ kind: 'base', identifier: 'x.tif' });
  });

  it('leaves a path that is no valid request to the source: a deep base URI, or the tail error', () => {
    const deep = splitRawSlashPath('a/b/c/d/e', { version: 3 });
    expect(deep).toMatchObject({ kind: 'base-if-exists', identifier: 'a/b/c/d/e' });
    expect(deep.kind === 'base-if-exists' && deep.otherwise).toMatchObject({ status: 400 });
    const short = splitRawSlashPath('a/b', { version: 3 });
    expect(short).toMatchObject({ kind: 'base-if-exists', identifier: 'a/b', otherwise: { status: 400 } });
  });

  it('still refuses relative segments and control characters, and maps the slash substitute', () => {
    expectHttpError(() => splitRawSlashPath('a/%2e%2e/b/info.json'), 400, 'bad_identifier');
    expectHttpError(() => splitRawSlashPath('a/b%00/info.json'), 400, 'bad_identifier');
    expect(splitRawSlashPath('a/b_SL_c/info.json', { slashSubstitute: '_SL_' })).toEqual({ kind: 'info', identifier: 'a/b/c' });
  });
});

describe('emitIdentifier', () => {
  it('encodes / by default, keeps it raw as received, or uses the slash substitute', () => {
    expect(emitIdentifier('a/b c.tif', {})).toBe('a%2Fb%20c.tif');
    expect(emitIdentifier('a/b c.tif', { rawSlash: true })).toBe('a/b%20c.tif');
    expect(emitIdentifier('a/b c.tif', { slashSubstitute: '_SL_' })).toBe('a_SL_b%20c.tif');
    expect(emitIdentifier('a/b', { slashSubstitute: '|' })).toBe('a%7Cb');
  });
});
