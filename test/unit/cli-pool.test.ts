import { describe, expect, it } from 'vitest';
import { forEachLimited } from '../../adapters/cli/pool.ts';

describe('compare and prepare work pool', () => {
  it('never runs more than the limit at once, and runs every item once', async () => {
    let active = 0;
    let peak = 0;
    const seen: number[] = [];
    await forEachLimited([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((ok) => setTimeout(ok, 5));
      seen.push(n);
      active--;
    });
    expect(peak).toBe(3);
    expect(seen.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('spaces starts by the gap even when slots are free (the request rate)', async () => {
    const starts: number[] = [];
    await forEachLimited([1, 2, 3, 4], 4, async () => void starts.push(performance.now()), 40);
    for (let i = 1; i < starts.length; i++) expect((starts[i] ?? 0) - (starts[i - 1] ?? 0)).toBeGreaterThanOrEqual(35);
  });
});
