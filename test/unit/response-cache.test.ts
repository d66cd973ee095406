import { describe, expect, it } from 'vitest';
import { createResponseCache, ENTRY_OVERHEAD } from '../../src/http/response-cache.ts';

describe('response cache memory', () => {
  it('keeps a right-sized copy of each body, not a view of the buffer it came in', async () => {
    const cache = createResponseCache(1024 * 1024)!;
    // A renderer's 700-byte body inside a 64 KiB allocation (sharp, a pooled Buffer, a file read).
    const backing = new Uint8Array(64 * 1024).fill(7);
    const body = backing.subarray(100, 800);
    cache.set('k', { body, via: 'render' });
    backing.fill(9);
    const got = await cache.get('k');
    expect(got?.body.byteLength).toBe(700);
    expect(got?.body.buffer.byteLength).toBe(700);
    // The kept bytes are the ones given, not later changes to the renderer's buffer.
    expect(got?.body.every((v) => v === 7)).toBe(true);
  });

  it('counts what keeping an entry costs, so many tiny bodies stay within the bound', async () => {
    const bound = 256 * 1024;
    const cache = createResponseCache(bound)!;
    const count = 2000;
    for (let i = 0; i < count; i++) cache.set(`key ${i}`, { body: new Uint8Array(16), via: 'render' });
    let kept = 0;
    for (let i = 0; i < count; i++) if (await cache.get(`key ${i}`)) kept++;
    // 2,000 × 16 body bytes is 32 KB, under the bound; each entry's real cost is not.
    expect(kept).toBe(Math.floor(bound / (16 + ENTRY_OVERHEAD)));
  });

  it('copies a body coming back from the store tier too', async () => {
    const backing = new Uint8Array(8192);
    const cache = createResponseCache(1024 * 1024, {
      get: async () => ({ body: backing.subarray(0, 10), via: 'render' }),
      set: () => undefined,
    })!;
    expect((await cache.get('a'))?.from).toBe('store');
    expect((await cache.get('a'))?.from).toBe('memory');
    expect((await cache.get('a'))?.body.buffer.byteLength).toBe(10);
  });
});

describe('response cache over a store', () => {
  it('tells the store of a memory hit, so its least-recently-used order follows use (touch)', async () => {
    const touched: string[] = [];
    const body = new Uint8Array(10);
    const cache = createResponseCache(1024 * 1024, {
      get: async (key) => (key === 'on disk' ? { body, via: 'render' } : undefined),
      set: () => undefined,
      touch: (key) => void touched.push(key),
    })!;
    cache.set('rendered', { body, via: 'render' });
    expect((await cache.get('rendered'))?.from).toBe('memory');
    expect((await cache.get('rendered'))?.from).toBe('memory');
    // A store hit or a miss is the store's own lookup: no touch.
    expect((await cache.get('on disk'))?.from).toBe('store');
    expect(await cache.get('nowhere')).toBeUndefined();
    expect(touched).toEqual(['rendered', 'rendered']);
  });
});
