import { InvalidArgumentError } from 'commander';

/** A bad argument found after commander's own checks (unreadable list file, bad location): exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A commander argument parser for a whole number in [min, max]. */
export const wholeNumber = (min: number, max: number) => (raw: string): number => {
  if (!/^\d{1,10}$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}.`);
  }
  return Number(raw);
};

/** A commander argument parser for a decimal number in [min, max]. */
export const decimal = (min: number, max: number) => (raw: string): number => {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    throw new InvalidArgumentError(`expected a number from ${min} to ${max}.`);
  }
  return n;
};

/** An http(s) base URL without its trailing slash. */
export function baseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidArgumentError('expected an absolute URL such as https://images.example.org/iiif/3.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError('expected an http or https URL.');
  return url.href.replace(/\/+$/, '');
}
