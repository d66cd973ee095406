import { describe, expect, it } from 'vitest';
import { createMemoryBudget } from '../../adapters/cli/memory-budget.ts';

/** Lets every reservation that can start run its callback. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe('prepare memory budget', () => {
  it('runs what fits at once, holds the rest until bytes are released', async () => {
    const budget = createMemoryBudget(100);
    const started: string[] = [];
    const a = budget.reserve(60).then((release) => (started.push('a'), release));
    const b = budget.reserve(30).then((release) => (started.push('b'), release));
    const c = budget.reserve(50).then((release) => (started.push('c'), release));
    await settle();
    expect(started).toEqual(['a', 'b']);
    expect(budget.inUse).toBe(90);
    (await a)();
    await settle();
    expect(started).toEqual(['a', 'b', 'c']);
    expect(budget.inUse).toBe(80);
    (await b)();
    (await c)();
    expect(budget.inUse).toBe(0);
  });

  it('runs a job larger than the whole budget alone, and does not let later small jobs overtake it', async () => {
    const budget = createMemoryBudget(100);
    const started: string[] = [];
    const small = budget.reserve(10).then((release) => (started.push('small'), release));
    const huge = budget.reserve(300).then((release) => (started.push('huge'), release));
    const later = budget.reserve(10).then((release) => (started.push('later'), release));
    await settle();
    expect(started).toEqual(['small']);
    (await small)();
    await settle();
    expect(started).toEqual(['small', 'huge']);
    (await huge)();
    await settle();
    expect(started).toEqual(['small', 'huge', 'later']);
    const release = await later;
    release();
    release();
    expect(budget.inUse).toBe(0);
  });
});
