import { firstLine } from './convert.ts';
import { readAtMost } from './url-diff.ts';
import { infoAndThumbnail, viewerPaths, type ViewerInfo } from './url-sources.ts';

/** An info.json is a few KiB; reading more would let an endless body fill the memory. */
const MAX_INFO_BYTES = 1024 * 1024;

export interface IdPaths {
  paths: string[];
  /** Why an identifier's set is smaller than a viewer's, one line each. */
  notes: string[];
}

/**
 * Each identifier's viewer set, built from the old server's info.json (what viewers see today).
 * `note` hears each note as it is found, as the replay may take long.
 */
export async function idPaths(text: string, oldBase: string, timeoutMs: number, note: (line: string) => void): Promise<IdPaths> {
  const ids = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const paths = new Set<string>();
  const notes: string[] = [];
  const add = (line: string) => {
    notes.push(line);
    note(line);
  };
  for (const id of ids) {
    const read = await readInfo(`${oldBase}/${encodeURIComponent(id)}/info.json`, timeoutMs);
    if (typeof read === 'string') {
      // info.json and the thumbnail need no info.json to be asked; both are still compared.
      add(`${id}: no usable info.json on the old server (${read}), only info.json and the thumbnail compared`);
      for (const p of infoAndThumbnail(id)) paths.add(p);
      continue;
    }
    if (read.droppedTiles) add(`${id}: no usable tiles in the old info.json, the core's own tiling used`);
    for (const p of viewerPaths(id, read.info)) paths.add(p);
  }
  return { paths: [...paths], notes };
}

/** The viewer fields of an info.json, or why there are none. */
async function readInfo(url: string, timeoutMs: number): Promise<{ info: ViewerInfo; droppedTiles: boolean } | string> {
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
  return viewerInfo(json) ?? 'no positive whole width and height';
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
