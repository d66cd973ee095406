import { readFile } from 'node:fs/promises';
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
  requests: number;
  failed: number;
}

/**
 * Replays a session as a viewer does: info.json first, alone, then every tile request in the
 * captured order with `connections` in flight at once.
 */
export async function replaySession(base: string, paths: string[], connections: number): Promise<SessionResult> {
  let bytes = 0;
  let failed = 0;
  const get = async (path: string) => {
    const res = await fetch(`${base}${path}`);
    bytes += (await res.arrayBuffer()).byteLength;
    if (res.status !== 200) failed++;
  };
  const started = performance.now();
  const [first, ...rest] = paths;
  if (first !== undefined) await get(first);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < rest.length; i = next++) await get(rest[i]!);
  };
  await Promise.all(Array.from({ length: connections }, worker));
  return { ms: performance.now() - started, bytes, requests: paths.length, failed };
}
