import autocannon from 'autocannon';

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
