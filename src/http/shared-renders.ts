import type { RenderOutput } from '../renderers/renderer.ts';
import { busy } from './concurrency.ts';

interface InFlight {
  output: Promise<RenderOutput>;
  waiters: number;
  stop: AbortController;
}

/**
 * Identical renders share one piece of work: a second request for a response being rendered
 * (a popular answer expired behind a CDN, a viewer's retry) waits for that render instead of
 * running its own. The work is stopped only when every request waiting for it has left, never
 * by one of them leaving. At most one entry per render in flight, so the map is bounded by the
 * render slots and queue.
 */
export function createSharedRenders() {
  const inFlight = new Map<string, InFlight>();
  return {
    /** `render` is called with a signal that aborts once every caller with this key has left; `joined` when another caller started it. */
    async run(key: string, signal: AbortSignal | undefined, render: (signal: AbortSignal) => Promise<RenderOutput>): Promise<{ output: RenderOutput; joined: boolean }> {
      // A client gone before this point would never fire 'abort': its render would run for nobody.
      if (signal?.aborted) throw busy('the request was cancelled');
      let entry = inFlight.get(key);
      const joined = entry !== undefined;
      if (!entry) {
        const stop = new AbortController();
        const started: InFlight = { output: render(stop.signal), waiters: 0, stop };
        // A newer render of the same key may have taken the place of a stopped one.
        const done = () => inFlight.get(key) === started && inFlight.delete(key);
        started.output.then(done, done);
        inFlight.set(key, started);
        entry = started;
      }
      const shared = entry;
      shared.waiters++;
      let gone = false;
      const leave = () => {
        if (gone) return;
        gone = true;
        if (--shared.waiters === 0 && signal?.aborted) {
          // Stopped work is no one's to join: a request arriving now renders afresh.
          if (inFlight.get(key) === shared) inFlight.delete(key);
          shared.stop.abort();
        }
      };
      signal?.addEventListener('abort', leave, { once: true });
      try {
        return { output: await shared.output, joined };
      } finally {
        signal?.removeEventListener('abort', leave);
        leave();
      }
    },
  };
}
