import type { Config } from '../config.ts';
import { httpError } from '../errors.ts';
import type { Renderer } from '../renderers/renderer.ts';

export interface RenderSlotOptions {
  /** Renders running at once; more only add memory, as each render already uses every core. */
  maxConcurrent: number;
  /** Renders allowed to wait for a slot; beyond that a request is refused at once. */
  maxQueued: number;
  /** How long a render may wait for a slot before the request is refused. */
  queueTimeoutMs: number;
  /** Told the running and queued counts whenever either changes (the render queue gauge). */
  onChange?: (running: number, queued: number) => void;
}

/** 503 with Retry-After: the server is busy, or the request left before its work was done. */
export const busy = (message: string) => httpError(503, 'busy', message, { 'Retry-After': '1' });

/** A counting semaphore with a bounded, first-come queue whose waiters leave on timeout or abort. */
export function createRenderSlots(options: RenderSlotOptions) {
  let running = 0;
  /** Each waiter's start function, oldest first. */
  const queue: Array<() => void> = [];
  const changed = () => options.onChange?.(running, queue.length);

  const release = (): void => {
    const next = queue.shift();
    if (next) next();
    else running--;
    changed();
  };

  function acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(busy('the request was cancelled'));
    if (running < options.maxConcurrent) {
      running++;
      changed();
      return Promise.resolve(once(release));
    }
    if (queue.length >= options.maxQueued) return Promise.reject(busy('the server is busy, try again'));
    return new Promise((resolve, reject) => {
      const leave = (error: Error) => {
        const at = queue.indexOf(start);
        if (at >= 0) queue.splice(at, 1);
        changed();
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        reject(error);
      };
      const onAbort = () => leave(busy('the request was cancelled'));
      // The slot passes straight from the releasing render to this one, so `running` is unchanged.
      const start = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve(once(release));
      };
      const timer = setTimeout(() => leave(busy('the server is busy, try again')), options.queueTimeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      queue.push(start);
      changed();
    });
  }

  return {
    /** Runs `work` in a slot, freeing it however the work ends. */
    async run<T>(signal: AbortSignal | undefined, work: () => Promise<T>): Promise<T> {
      const done = await acquire(signal);
      try {
        return await work();
      } finally {
        done();
      }
    },
  };
}

function once(fn: () => void): () => void {
  let called = false;
  return () => {
    if (!called) fn();
    called = true;
  };
}

/** The same renderer, with its pixel work limited to the given slots (info.json, 304s and kept renders never wait). */
export function limitRenderer(renderer: Renderer, options: RenderSlotOptions): Renderer {
  const slots = createRenderSlots(options);
  const limited: Renderer = {
    async render(input, plan) {
      const kept = await renderer.cached?.(input, plan);
      if (kept) return kept;
      const asked = performance.now();
      return slots.run(input.signal, async () => {
        const queueMs = performance.now() - asked;
        return { ...(await renderer.render(input, plan)), queueMs };
      });
    },
  };
  // A header check is a small read, never pixel work: it takes no slot.
  if (renderer.check) limited.check = renderer.check.bind(renderer);
  return limited;
}

export const renderSlotOptions = (config: Config): RenderSlotOptions => ({
  maxConcurrent: config.IIIF_MAX_CONCURRENT_RENDERS,
  maxQueued: config.IIIF_MAX_QUEUED_RENDERS,
  queueTimeoutMs: config.IIIF_QUEUE_TIMEOUT_MS,
});
