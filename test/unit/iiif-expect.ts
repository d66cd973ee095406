import { expect } from 'vitest';
import { HttpError } from '../../src/errors.ts';
import type { ImageGeometry } from '../../src/iiif/types.ts';

/** Assert `fn` throws our HttpError with this status and code; returns it for message checks. */
export function expectHttpError(fn: () => unknown, status: number, code: string): HttpError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(HttpError);
  const err = caught as HttpError;
  expect({ status: err.status, code: err.code }).toEqual({ status, code });
  return err;
}

/** A 10000×7500 pyramid with 256 px tiles and halving levels (the last one rounded up). */
export const PYRAMID_10000: ImageGeometry = {
  width: 10000,
  height: 7500,
  tile: { width: 256, height: 256 },
  levels: [
    { width: 10000, height: 7500 },
    { width: 5000, height: 3750 },
    { width: 2500, height: 1875 },
    { width: 1250, height: 938 },
    { width: 625, height: 469 },
  ],
};
