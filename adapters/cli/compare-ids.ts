import { firstLine } from './convert.ts';
import { readAtMost } from './url-diff.ts';
import { forEachLimited, type Pacer } from './pool.ts';
import { startProgress } from './progress.ts';
import { infoAndThumbnail, viewerPaths, type ViewerInfo } from './url-sources.ts';

/** An info.json is a few KiB; reading more would let an endless body fill the memory. */
const MAX_INFO_BYTES = 1024 * 1024;

export interface IdPaths {
  paths: string[];
  /** Why an identifier's set is smaller than a viewer's, one line each. */
  notes: string[];
}

export interface IdReading {
  timeoutMs: number;
  /** info.json reads at once, as the replay's --concurrency. */
  concurrency: number;
  /** The replay's pacer: these reads count against the same --rate. */
  pace: Pacer;
}

type IdResult = { paths: string[]; notes: string[] };

/** Each identifier's viewer set, built from the old server's info.json (what viewers see today). */
export async function idPaths(text: string, oldBase: string, o: IdReading): Promise<IdPaths> {
  const ids = [...new Set(text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')))];
  if (ids.length === 0) return { paths: [], notes: [] };
  // By index, so that paths and notes keep the list's order whatever order the reads end in.
  const results: IdResult[] = [];
  const progress = startProgress('compare info.json', ids.length);
  await forEachLimited(
    ids.map((id, index) => ({ id, index })),
    o.concurrency,
    async ({ id, index }) => {
      const read = await readInfo(`${oldBase}/${encodeURIComponent(id)}/info.json`, o.timeoutMs);
      const result = idResult(id, read);
      results[index] = result;
      // Each note as it is found, as the reads may take long.
      for (const line of result.notes) progress.log(`compare: ${line}`);
      progress.tick(typeof read === 'string' ? 0 : read.bytes);
    },
    o.pace,
  );
  progress.stop();
  return { paths: [...new Set(results.flatMap((r) => r.paths))], notes: results.flatMap((r) => r.notes) };
}

function idResult(id: string, read: Awaited<ReturnType<typeof readInfo>>): IdResult {
  if (typeof read === 'string') {
    // info.json and the thumbnail need no info.json to be asked; both are still compared.
    return { paths: infoAndThumbnail(id), notes: [`${id}: no usable info.json on the old server (${read}), only info.json and the thumbnail compared`] };
  }
  return { paths: viewerPaths(id, read.info), notes: read.droppedTiles ? [`${id}: no usable tiles in the old info.json, the core's own tiling used`] : [] };
}

/** The viewer fields of an info.json, or why there are none. */
async function readInfo(url: string, timeoutMs: number): Promise<{ info: ViewerInfo; droppedTiles: boolean; bytes: number } | string> {
  let bytes: Uint8Array | undefined;
  try {
    // The signal bounds the body's reading too, so a stalled body ends at the timeout.
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) {
      await res.body?.cancel();
      return `status ${res.status}`;
    }
    bytes = await readAtMost(res, MAX_INFO_BYTES);
  } catch (e) {
    return `request failed: ${firstLine(e)}`;
  }
  if (!bytes) return `over ${MAX_INFO_BYTES} bytes`;
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return 'not JSON';
  }
  const info = viewerInfo(json);
  return info ? { ...info, bytes: bytes.length } : 'no positive whole width and height';
}

type Json = Record<string, unknown>;

const positive = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;
const objects = (v: unknown): Json[] => (Array.isArray(v) ? v.filter((e): e is Json => typeof e === 'object' && e !== null) : []);

/** Only entries a viewer could use: whole positive sizes and scale factors, so no URL holds NaN or 0. */
function viewerInfo(json: unknown): { info: ViewerInfo; droppedTiles: boolean } | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const j = json as Json;
  if (!positive(j.width) || !positive(j.height)) return undefined;
  const tiles: NonNullable<ViewerInfo['tiles']> = [];
  for (const t of objects(j.tiles)) {
    const height = t.height ?? t.width;
    const listed: unknown[] = Array.isArray(t.scaleFactors) ? t.scaleFactors : [];
    const scaleFactors = listed.filter(positive);
    if (positive(t.width) && positive(height) && listed.length > 0 && scaleFactors.length === listed.length) {
      tiles.push({ width: t.width, height, scaleFactors });
    }
  }
  const sizes = objects(j.sizes).flatMap((s) => (positive(s.width) && positive(s.height) ? [{ width: s.width, height: s.height }] : []));
  return {
    info: { version: JSON.stringify(j['@context'] ?? '').includes('/image/3/') ? 3 : 2, width: j.width, height: j.height, tiles, sizes },
    droppedTiles: Array.isArray(j.tiles) && j.tiles.length > 0 && tiles.length === 0,
  };
}
