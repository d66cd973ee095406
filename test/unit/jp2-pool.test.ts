import { describe, expect, it } from 'vitest';
import { Jp2CodecError } from '../../src/jp2/codec.ts';
import { jp2DecodePool } from '../../src/renderers/sharp-jp2-pool.ts';
import { nodeJp2Codec } from '../../src/renderers/sharp-jp2.ts';
import { gridPixels } from '../helpers/jp2-images.ts';

describe('JPEG 2000 decoding threads', () => {
  it('decode in worker threads exactly what the in-thread codec decodes, several at once', async () => {
    const codec = await nodeJp2Codec();
    const jp2 = codec.encode({ data: gridPixels(600, 400, 3), width: 600, height: 400, channels: 3 }, { format: 'jp2', lossless: true, tileSize: 128, levels: 3 });
    const pool = jp2DecodePool(2);
    if (!pool) throw new Error('the worker source is in the checkout');
    const jobs = [
      { reduce: 0, area: { x0: 100, y0: 50, x1: 356, y1: 306 }, maxBytes: 1e7 },
      { reduce: 2, maxBytes: 1e7 },
      { reduce: 1, area: { x0: 0, y0: 0, x1: 600, y1: 200 }, maxBytes: 1e7 },
    ];
    const threaded = await Promise.all(jobs.map((o) => pool.decode(jp2, o)));
    threaded.forEach((px, i) => {
      const here = codec.decode(jp2, jobs[i] ?? { reduce: 0, maxBytes: 0 });
      expect([px.width, px.height, px.channels]).toEqual([here.width, here.height, here.channels]);
      expect(Buffer.from(px.data).equals(Buffer.from(here.data))).toBe(true);
    });
    expect([threaded[0]?.width, threaded[1]?.width, threaded[2]?.height]).toEqual([256, 150, 100]);
  });

  it('pass the codec error kind back: bad data is invalid, a big area too_large', async () => {
    const pool = jp2DecodePool(1);
    const bad = await pool?.decode(Uint8Array.of(0xff, 0x4f, 0xff, 0x51, 0, 0), { reduce: 0, maxBytes: 1e6 }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(Jp2CodecError);
    expect((bad as Jp2CodecError).kind).toBe('invalid');
    const codec = await nodeJp2Codec();
    const jp2 = codec.encode({ data: gridPixels(300, 200, 3), width: 300, height: 200, channels: 3 }, { format: 'j2k', lossless: true });
    const big = await pool?.decode(jp2, { reduce: 0, maxBytes: 1000 }).catch((e: unknown) => e);
    expect((big as Jp2CodecError).kind).toBe('too_large');
  });
});
