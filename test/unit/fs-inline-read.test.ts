import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inlineReads } from '../../src/sources/fs-inline-read.ts';

describe('inline reads of the fs source', () => {
  let dir: string;
  let path: string;
  const bytes = Uint8Array.from({ length: 4096 }, (_, i) => (i * 7) & 255);
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'inline-read-'));
    path = join(dir, 'f.bin');
    await writeFile(path, bytes);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('reads the asked range inline, and leaves large reads and a disabled reader to the pool', async () => {
    const file = await open(path);
    try {
      const reads = inlineReads({ enabled: true, maxBytes: 1024 });
      const buffer = new Uint8Array(100);
      expect(reads.read(file.fd, buffer, 1000)).toBe(100);
      expect([...buffer]).toEqual([...bytes.subarray(1000, 1100)]);
      // Past the end: what the file holds.
      expect(reads.read(file.fd, new Uint8Array(200), 4000)).toBe(96);
      expect(reads.read(file.fd, new Uint8Array(1025), 0)).toBeUndefined();
      expect(inlineReads({ enabled: false }).read(file.fd, buffer, 0)).toBeUndefined();
    } finally {
      await file.close();
    }
  });

  it('sends reads to the pool for the pause after three slow reads within a second, then tries inline again', () => {
    let clock = 0;
    let took = 0.5;
    const reads = inlineReads({
      enabled: true,
      slowMs: 2,
      strikes: 3,
      pauseMs: 10_000,
      now: () => clock,
      readSync: (_fd, _b, _o, length) => {
        clock += took;
        return length;
      },
    });
    const buffer = new Uint8Array(10);
    const inline = () => reads.read(0, buffer, 0) === 10;
    expect(inline()).toBe(true);
    // Slow reads spread over more than a second never add up to three.
    took = 5;
    expect(inline()).toBe(true);
    expect(inline()).toBe(true);
    clock += 1_500;
    expect(inline()).toBe(true);
    expect(inline()).toBe(true);
    // The third within a second.
    expect(inline()).toBe(true);
    expect(inline()).toBe(false);
    clock += 9_000;
    expect(inline()).toBe(false);
    clock += 1_000;
    took = 0.5;
    expect(inline()).toBe(true);
    expect(inline()).toBe(true);
  });
});
