import type { MiddlewareHandler } from 'hono';
import { httpError } from '../errors.ts';

/**
 * Answers 503 when a request is still unanswered after `ms`. The work itself cannot be
 * cancelled (a decode runs to its end and keeps its render slot), but the client is
 * told to retry instead of holding a connection open indefinitely.
 */
export function requestTimeout(ms: number): MiddlewareHandler {
  return async (_c, next) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(httpError(503, 'busy', 'the request took too long, try again later', { 'Retry-After': '5' })),
        ms,
      );
    });
    try {
      await Promise.race([next(), expired]);
    } finally {
      clearTimeout(timer);
    }
  };
}
