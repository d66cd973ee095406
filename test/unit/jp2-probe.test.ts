import { describe, expect, it } from 'vitest';
import { probeGeometry } from '../../src/image/geometry.ts';
import type { ImageSource } from '../../src/sources/source.ts';
import { codestream, jp2File } from '../helpers/jp2-headers.ts';

/** An in-memory source that counts range reads. */
function memorySource(bytes: Uint8Array) {
  const counts = { reads: 0, bytes: 0 };
  const source: ImageSource = {
    kind: 'memory',
    stat: async () => ({ etag: 'e', size: bytes.length }),
    read: async (_id, range) => {
      counts.reads++;
      const out = range ? bytes.subarray(range.offset, range.offset + range.length) : bytes;
      counts.bytes += out.length;
      return out;
    },
  };
  return { source, counts };
}

const probe = (bytes: Uint8Array) => {
  const { source } = memorySource(bytes);
  return probeGeometry(source, 'x', { etag: 'e', size: bytes.length });
};

describe('probeGeometry on JPEG 2000 sources', () => {
  it('a tiled JP2 gets its geometry from the headers (it was a 501 "not supported")', async () => {
    const cs = codestream({ width: 3000, height: 2000, tileWidth: 512, tileHeight: 512, levels: 4, withTlm: true });
    const g = await probe(jp2File(cs, 3000, 2000));
    expect(g).toMatchObject({ format: 'jp2', width: 3000, height: 2000, tile: { width: 512, height: 512 } });
    expect(g.levels?.map((l) => [l.width, l.height])).toEqual([
      [3000, 2000],
      [1500, 1000],
      [750, 500],
      [375, 250],
      [188, 125],
    ]);
    expect(g.jp2?.tileParts).toHaveLength(24);
  });

  it('a raw J2K codestream is recognised too', async () => {
    const g = await probe(codestream({ width: 640, height: 480, levels: 2 }));
    expect(g).toMatchObject({ format: 'jp2', width: 640, height: 480 });
    expect(g.tile).toBeUndefined();
  });

  it('a damaged JP2 is a 422 with a one-line reason', async () => {
    const file = jp2File(codestream({ width: 64, height: 64 }), 64, 64);
    const err = await probe(file.subarray(0, 70)).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 422, code: 'unsupported_source' });
    expect((err as Error).message).toMatch(/^[^\n]*JPEG 2000[^\n]*$/);
  });
});
