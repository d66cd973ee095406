import { readFile } from 'node:fs/promises';
import { Agent, get as httpGet } from 'node:http';
import { fileURLToPath } from 'node:url';

/** The captured OpenSeadragon session (bench/capture-session.ts), as paths below /iiif/3/ for `identifier`. */
export async function sessionPaths(identifier: string): Promise<string[]> {
  const text = await readFile(fileURLToPath(new URL('sessions/openseadragon.txt', import.meta.url)), 'utf8');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => line.replaceAll('{id}', identifier));
}

export interface SessionResult {
  /** Wall time from the first request to the last response. */
  ms: number;
  /** Response body bytes of the whole session. */
  bytes: number;
  /** Body bytes of each response, in the order of the session's paths. */
  sizes: number[];
  requests: number;
  failed: number;
}

/** Status and body size of one GET, on one of the agent's kept-alive sockets. */
function getSize(agent: Agent, url: string): Promise<{ status: number; bytes: number }> {
  return new Promise((ok, fail) => {
    httpGet(url, { agent }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.once('end', () => ok({ status: res.statusCode ?? 0, bytes }));
      res.once('error', fail);
    }).once('error', fail);
  });
}

/**
 * Replays a session as a viewer does: info.json first, alone, then every tile request in the
 * captured order with `connections` in flight at once, each on its own kept-alive socket (a
 * browser keeps six to eight per host). node:http, not fetch: against a server answering fixed
 * buffers of the session's sizes, the 170 requests took 108–192 ms with fetch and 54–99 ms with
 * node:http here, and that floor is in every session measured.
 */
export async function replaySession(base: string, paths: string[], connections: number): Promise<SessionResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const sizes = new Array<number>(paths.length).fill(0);
  let failed = 0;
  const get = async (i: number) => {
    const { status, bytes } = await getSize(agent, `${base}${paths[i]}`);
    sizes[i] = bytes;
    if (status !== 200) failed++;
  };
  try {
    const started = performance.now();
    if (paths.length > 0) await get(0);
    let next = 1;
    const worker = async () => {
      for (let i = next++; i < paths.length; i = next++) await get(i);
    };
    await Promise.all(Array.from({ length: connections }, worker));
    const ms = performance.now() - started;
    return { ms, bytes: sizes.reduce((a, b) => a + b, 0), sizes, requests: paths.length, failed };
  } finally {
    agent.destroy();
  }
}
