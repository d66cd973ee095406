import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type Jp2CodecErrorKind, type Jp2DecodeOptions, type Jp2Pixels, Jp2CodecError } from '../jp2/codec.ts';

/** In the checkout (spelled from the repository root, so it holds for dist/node/main.mjs too); not in the Lambda zip. */
const WORKER_URL = new URL('../../src/renderers/sharp-jp2-worker.ts', import.meta.url);

type Reply = { id: number; pixels?: Jp2Pixels; error?: { kind: Jp2CodecErrorKind; message: string } };

interface Job {
  resolve: (pixels: Jp2Pixels) => void;
  reject: (e: Error) => void;
}

interface Thread {
  worker: Worker;
  jobs: Map<number, Job>;
}

/** The thread died or could not start (e.g. a Node without TypeScript type stripping): not the image's fault. */
export class Jp2ThreadError extends Error {
  override name = 'Jp2ThreadError';
}

export interface Jp2DecodePool {
  decode(bytes: Uint8Array, options: Jp2DecodeOptions): Promise<Jp2Pixels>;
}

/**
 * OpenJPEG decodes synchronously, so on the main thread one JP2 render blocks every other
 * request and uses one core. Up to `size` worker threads decode instead, each with its own
 * wasm instance (so up to `size` × its memory cap), started on first use; a job goes to the
 * least busy one. The render slots bound how many jobs wait. Undefined where the worker's
 * source is not shipped (the Lambda zip, which serves one request at a time anyway).
 */
export function jp2DecodePool(size: number): Jp2DecodePool | undefined {
  if (!existsSync(fileURLToPath(WORKER_URL))) return undefined;
  const threads: Thread[] = [];
  let nextId = 0;

  const start = (): Thread => {
    const thread: Thread = { worker: new Worker(WORKER_URL), jobs: new Map() };
    thread.worker.on('message', ({ id, pixels, error }: Reply) => {
      const job = thread.jobs.get(id);
      thread.jobs.delete(id);
      if (error) job?.reject(new Jp2CodecError(error.kind, error.message));
      else if (pixels) job?.resolve(pixels);
    });
    // A dead thread fails its own jobs; the next job starts a fresh one.
    const fail = (e: unknown) => {
      threads.splice(threads.indexOf(thread), 1);
      for (const job of thread.jobs.values()) job.reject(new Jp2ThreadError(`JPEG 2000 decoding thread stopped: ${String(e)}`));
      thread.jobs.clear();
    };
    thread.worker.on('error', fail);
    thread.worker.on('exit', (code) => threads.includes(thread) && fail(`exit ${code}`));
    thread.worker.unref();
    threads.push(thread);
    return thread;
  };

  return {
    decode(bytes, options) {
      const idle = threads.find((t) => t.jobs.size === 0);
      const thread = idle ?? (threads.length < size ? start() : threads.reduce((a, b) => (b.jobs.size < a.jobs.size ? b : a)));
      const id = nextId++;
      return new Promise<Jp2Pixels>((resolve, reject) => {
        thread.jobs.set(id, { resolve, reject });
        thread.worker.postMessage({ id, bytes, options });
      });
    },
  };
}
