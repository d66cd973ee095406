import { createRequire } from 'node:module';
import autocannon from 'autocannon';

interface BodyQueue {
  prototype: { addBody(data: Uint8Array): void };
}
// autocannon turns every response body into a UTF-8 string (mcollina/autocannon#362). For image
// bodies that is most of the load generator's CPU, taken from the servers it shares the machine
// with. These runs never look at bodies (verify.ts checks them apart), so they are dropped;
// byte counts and timings are kept by autocannon elsewhere.
const queue = createRequire(import.meta.url)('autocannon/lib/pipelinedRequestsQueue.js') as BodyQueue;
if (typeof queue.prototype.addBody !== 'function') throw new Error('autocannon changed: pipelinedRequestsQueue has no addBody to replace');
queue.prototype.addBody = () => {};

export interface LoadResult {
  /** Successful (2xx) responses per second. */
  rps: number;
  p50: number;
  p99: number;
  ok: number;
  /** Non-2xx responses, connection errors and timeouts. */
  failed: number;
}

export interface LoadOptions {
  base: string;
  paths: string[];
  connections: number;
  seconds: number;
}

/** One autocannon run cycling through `paths`: every request takes the next path in the list. */
async function fire(options: LoadOptions, limit: { duration: number } | { amount: number }): Promise<LoadResult> {
  let next = 0;
  const result = await autocannon({
    url: options.base,
    connections: options.connections,
    timeout: 120,
    ...limit,
    requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: options.paths[next++ % options.paths.length] }) }],
  });
  const ok = result['2xx'];
  return {
    rps: result.duration > 0 ? ok / result.duration : 0,
    p50: result.latency.p50,
    p99: result.latency.p99,
    ok,
    failed: result.non2xx + result.errors,
  };
}

/** Warms up with a couple of requests per connection, then measures for `seconds`. */
export async function load(options: LoadOptions): Promise<LoadResult> {
  await fire(options, { amount: options.connections * 2 });
  return fire(options, { duration: options.seconds });
}
