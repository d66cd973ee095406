import { afterEach, describe, expect, it, vi } from 'vitest';
import { deadlines } from '../../src/http/deadlines.ts';

afterEach(() => {
  vi.useRealTimers();
});

const later = <T>(ms: number, value: T) => new Promise<T>((ok) => setTimeout(() => ok(value), ms));

describe('deadlines', () => {
  it('passes on work that settles in time, and its failure', async () => {
    const d = deadlines(1000);
    await expect(d.race(Promise.resolve('done'), () => 'late')).resolves.toBe('done');
    await expect(d.race(Promise.reject(new Error('broken')), () => 'late')).rejects.toThrow('broken');
  });

  it('answers late work with late() once its own deadline has passed, in order, and drops the late outcome', async () => {
    vi.useFakeTimers();
    const d = deadlines(100);
    const outcomes: string[] = [];
    const a = d.race(later(150, 'a'), () => 'a late').then((v) => outcomes.push(v));
    await vi.advanceTimersByTimeAsync(40);
    const b = d.race(later(80, 'b'), () => 'b late').then((v) => outcomes.push(v));
    const c = d.race(later(500, 'c'), () => 'c late').then((v) => outcomes.push(v));
    await vi.advanceTimersByTimeAsync(59);
    expect(outcomes).toEqual([]);
    await vi.advanceTimersByTimeAsync(2);
    expect(outcomes).toEqual(['a late']);
    await vi.advanceTimersByTimeAsync(30);
    expect(outcomes).toEqual(['a late', 'b']);
    await vi.advanceTimersByTimeAsync(20);
    expect(outcomes).toEqual(['a late', 'b', 'c late']);
    await Promise.all([a, b, c]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(outcomes).toHaveLength(3);
  });

  it('leaves no timer once nothing is in flight', async () => {
    vi.useFakeTimers();
    const d = deadlines(10_000);
    await d.race(Promise.resolve(1), () => 0);
    const slow = d.race(later(50, 2), () => 0);
    expect(vi.getTimerCount()).toBe(2);
    await vi.advanceTimersByTimeAsync(50);
    await slow;
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a late() that throws rejects that request alone', async () => {
    vi.useFakeTimers();
    const d = deadlines(10);
    const bad = d.race(later(100, 1), () => {
      throw new Error('no answer');
    });
    const expectation = expect(bad).rejects.toThrow('no answer');
    const good = d.race(later(100, 2), () => 3);
    await vi.advanceTimersByTimeAsync(20);
    await expectation;
    await expect(good).resolves.toBe(3);
  });
});
