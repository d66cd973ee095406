import { expect } from 'vitest';
import { HttpError } from '../../src/errors.ts';

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
