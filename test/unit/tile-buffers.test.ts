import { describe, expect, it } from 'vitest';
import { tileBuffers } from '../../src/image/tile-buffers.ts';

describe('tileBuffers', () => {
  it('gives buffers of the asked length, none past its size', () => {
    const buffers = tileBuffers(1024, 2);
    expect(buffers.take(1000)?.length).toBe(1000);
    expect(buffers.take(1024)?.length).toBe(1024);
    expect(buffers.take(1025)).toBeUndefined();
  });

  it('uses a buffer again only once it is handed back', () => {
    const buffers = tileBuffers(1024, 2);
    const a = buffers.take(100)!;
    const b = buffers.take(100)!;
    expect(b.buffer).not.toBe(a.buffer);
    buffers.give(a);
    const c = buffers.take(500)!;
    expect(c.buffer).toBe(a.buffer);
    expect(buffers.take(100)!.buffer).not.toBe(b.buffer);
  });

  it('keeps at most `keep` buffers, and only of its size', () => {
    const buffers = tileBuffers(1024, 2);
    buffers.give(new Uint8Array(new ArrayBuffer(2048), 0, 10));
    expect(buffers.take(10)!.buffer.byteLength).toBe(1024);
    const taken = [buffers.take(10)!, buffers.take(10)!, buffers.take(10)!];
    for (const t of taken) buffers.give(t);
    const again = [buffers.take(10)!, buffers.take(10)!, buffers.take(10)!].map((t) => t.buffer);
    // The first two kept (a stack: last given, first taken), then a new one.
    expect(again[0]).toBe(taken[1]!.buffer);
    expect(again[1]).toBe(taken[0]!.buffer);
    expect(taken.map((t) => t.buffer)).not.toContain(again[2]);
  });
});
