import { describe, expect, it } from 'vitest';
import { isHttpError } from '../../src/errors.ts';
import { r2Source } from '../../src/sources/r2-source.ts';

describe('R2 failures', () => {
  it('keep what R2 said as the cause of the 502, for the log (never the answer)', async () => {
    const fault = new Error('get: We encountered an internal error. Please try again. (10001)');
    const source = r2Source({ bucket: { head: () => Promise.reject(fault), get: () => Promise.reject(fault) }, timeoutMs: 1000 });
    const failed = await source.stat('a.jpg').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isHttpError(failed) && failed.status).toBe(502);
    expect((failed as Error).message).toBe('storage failed to read the image');
    expect((failed as Error).cause).toBe(fault);
  });
});
