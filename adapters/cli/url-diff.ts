import type { Sharp, SharpOptions } from 'sharp';
import { isJpeg2000 } from '../../src/jp2/index.ts';
import { nodeJp2Codec } from '../../src/renderers/sharp-jp2.ts';
import { firstLine } from './convert.ts';

type SharpFactory = (input: Uint8Array, options: SharpOptions) => Sharp;

export interface Fetched {
  status: number;
  contentType: string;
  /** Body length as received. */
  bytes?: number;
  width?: number;
  height?: number;
  error?: string;
}

export interface UrlResult {
  path: string;
  old: Fetched;
  new: Fetched;
  /** Mean absolute difference of the decoded 8-bit sRGB samples (0–255), when both decoded at one size. */
  meanAbsDiff?: number;
  /** The same, over the 16×16 area that differs most. */
  worstBlockDiff?: number;
  /** info.json fields that differ. */
  infoDiffs?: string[];
  /** Why the URL counts as different; empty when it is the same. */
  differences: string[];
}

export interface DiffOptions {
  threshold: number;
  /** Largest mean difference of any 16×16 area still counted the same. */
  localThreshold: number;
  timeoutMs: number;
  /** Larger outputs are not decoded (bounded memory). */
  maxPixels: number;
}

/** Media type without parameters; JSON and JSON-LD count as one, as IIIF allows either for info.json. */
const mediaType = (header: string | null): string => {
  const type = (header ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  return type === 'application/ld+json' ? 'application/json' : type;
};

interface Body {
  fetched: Fetched;
  bytes?: Uint8Array;
}

/** Bodies beyond this are not compared: memory stays bounded whatever a server sends. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

async function get(url: string, timeoutMs: number): Promise<Body> {
  // What the server said before a failure (a body that stalls after its status) stays in the report.
  let fetched: Fetched = { status: 0, contentType: '' };
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
    fetched = { status: res.status, contentType: mediaType(res.headers.get('content-type')) };
    const bytes = await readAtMost(res, MAX_BODY_BYTES);
    return bytes ? { fetched: { ...fetched, bytes: bytes.length }, bytes } : { fetched: { ...fetched, error: `body over ${MAX_BODY_BYTES} bytes` } };
  } catch (e) {
    return { fetched: { ...fetched, error: firstLine(e) } };
  }
}

async function readAtMost(res: Response, max: number): Promise<Uint8Array | undefined> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = res.body?.getReader();
  for (let r = await reader?.read(); r && !r.done; r = await reader?.read()) {
    total += r.value.length;
    if (total > max) {
      await reader?.cancel();
      return undefined;
    }
    chunks.push(r.value);
  }
  return Buffer.concat(chunks);
}

/** Requests `path` from both servers and says how the answers differ. */
export async function diffUrl(sharp: SharpFactory, oldBase: string, newBase: string, path: string, o: DiffOptions): Promise<UrlResult> {
  const [a, b] = await Promise.all([get(`${oldBase}/${path}`, o.timeoutMs), get(`${newBase}/${path}`, o.timeoutMs)]);
  const result: UrlResult = { path, old: a.fetched, new: b.fetched, differences: [] };
  const differ = (what: string) => result.differences.push(what);
  if (a.fetched.error || b.fetched.error) differ(`request failed: ${a.fetched.error ?? b.fetched.error}`);
  if (a.fetched.status !== b.fetched.status) differ(`status ${a.fetched.status} → ${b.fetched.status}`);
  if (a.fetched.status >= 300 || b.fetched.status >= 300 || !a.bytes || !b.bytes) return result;
  if (a.fetched.contentType !== b.fetched.contentType) differ(`content type ${a.fetched.contentType} → ${b.fetched.contentType}`);
  if (path.endsWith('/info.json')) {
    result.infoDiffs = diffInfo(a.bytes, b.bytes);
    if (result.infoDiffs.length > 0) differ(`info.json ${result.infoDiffs.join(', ')}`);
    return result;
  }
  const [pa, pb] = await Promise.all([pixels(sharp, a.bytes, o.maxPixels), pixels(sharp, b.bytes, o.maxPixels)]);
  describe(a.fetched, pa);
  describe(b.fetched, pb);
  if ('error' in pa || 'error' in pb) {
    differ(`not decodable: ${a.fetched.error ?? b.fetched.error}`);
    return result;
  }
  if (pa.width !== pb.width || pa.height !== pb.height) {
    differ(`size ${pa.width}×${pa.height} → ${pb.width}×${pb.height}`);
    return result;
  }
  const { mean, worstBlock } = differences(pa, pb);
  result.meanAbsDiff = Number(mean.toFixed(3));
  result.worstBlockDiff = Number(worstBlock.toFixed(3));
  if (result.meanAbsDiff > o.threshold) differ(`pixels differ by ${result.meanAbsDiff} (threshold ${o.threshold})`);
  // A mean over the whole image hides a small area gone wrong (a patch, a watermark, a missing tile).
  else if (result.worstBlockDiff > o.localThreshold) differ(`a ${BLOCK}×${BLOCK} area differs by ${result.worstBlockDiff} (local threshold ${o.localThreshold})`);
  return result;
}

/** Side of the areas whose own mean difference is checked against the local threshold. */
const BLOCK = 16;

/** Mean absolute sample difference of the whole image and of its worst BLOCK×BLOCK area. */
function differences(a: { width: number; height: number; data: Uint8Array }, b: { data: Uint8Array }) {
  const channels = a.data.length / Math.max(1, a.width * a.height);
  const columns = Math.ceil(a.width / BLOCK);
  const blocks = new Float64Array(columns * Math.ceil(a.height / BLOCK));
  let sum = 0;
  for (let y = 0; y < a.height; y++) {
    const row = Math.floor(y / BLOCK) * columns;
    for (let x = 0; x < a.width; x++) {
      let d = 0;
      for (let c = 0, i = (y * a.width + x) * channels; c < channels; c++, i++) d += Math.abs((a.data[i] ?? 0) - (b.data[i] ?? 0));
      sum += d;
      blocks[row + Math.floor(x / BLOCK)]! += d;
    }
  }
  let worst = 0;
  blocks.forEach((total, k) => {
    const bw = Math.min(BLOCK, a.width - (k % columns) * BLOCK);
    const bh = Math.min(BLOCK, a.height - Math.floor(k / columns) * BLOCK);
    worst = Math.max(worst, total / (bw * bh * channels));
  });
  return { mean: sum / Math.max(1, a.data.length), worstBlock: worst };
}

type Pixels = { width: number; height: number; data: Uint8Array } | { error: string };

function describe(side: Fetched, p: Pixels): void {
  if ('error' in p) side.error = p.error;
  else Object.assign(side, { width: p.width, height: p.height });
}

const PDF = new TextEncoder().encode('%PDF-');

/**
 * What sharp can read: jp2 decoded by our OpenJPEG build (sharp's libvips has none), and a pdf's
 * image, the JPEG of its first DCTDecode stream (a IIIF pdf is one page holding the render).
 */
async function readable(bytes: Uint8Array, maxPixels: number): Promise<{ input: Uint8Array; options: SharpOptions }> {
  const options: SharpOptions = { limitInputPixels: maxPixels, failOn: 'error' };
  if (isJpeg2000(bytes)) {
    const px = (await nodeJp2Codec()).decode(bytes, { reduce: 0, maxBytes: maxPixels * 4 });
    return { input: px.data, options: { ...options, raw: { width: px.width, height: px.height, channels: px.channels } } };
  }
  if (PDF.every((b, i) => bytes[i] === b)) {
    // pdf-lib takes about 100 ms to import: only a run that meets a pdf loads it.
    const jpeg = await (await import('../../src/renderers/pdf-page.ts')).pdfJpeg(bytes);
    if (!jpeg) throw new Error('a pdf without a JPEG image');
    return { input: jpeg, options };
  }
  return { input: bytes, options };
}

/** 8-bit sRGB without alpha (flattened on white), so grey, RGB and RGBA outputs compare alike. */
async function pixels(sharp: SharpFactory, bytes: Uint8Array, maxPixels: number): Promise<Pixels> {
  try {
    const { input, options } = await readable(bytes, maxPixels);
    const { data, info } = await sharp(input, options)
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { width: info.width, height: info.height, data };
  } catch (e) {
    return { error: firstLine(e) };
  }
}

type Json = Record<string, unknown>;

/** The info.json fields a viewer depends on: width, height, sizes, tiles, profile level and the host in `id`. */
export function diffInfo(oldBytes: Uint8Array, newBytes: Uint8Array): string[] {
  let a: Json;
  let b: Json;
  try {
    a = JSON.parse(new TextDecoder().decode(oldBytes)) as Json;
    b = JSON.parse(new TextDecoder().decode(newBytes)) as Json;
  } catch {
    return ['not JSON'];
  }
  const fields: Array<[string, (j: Json) => unknown]> = [
    ['width', (j) => j.width],
    ['height', (j) => j.height],
    ['sizes', (j) => sortedSizes(j.sizes)],
    ['tiles', (j) => normalTiles(j.tiles)],
    ['profile', profileLevel],
    ['id host', idHost],
  ];
  return fields
    .filter(([, pick]) => JSON.stringify(pick(a)) !== JSON.stringify(pick(b)))
    .map(([name, pick]) => `${name} ${JSON.stringify(pick(a))} → ${JSON.stringify(pick(b))}`);
}

const sortedSizes = (sizes: unknown) =>
  Array.isArray(sizes) ? (sizes as Array<{ width: number; height: number }>).map((s) => `${s.width}x${s.height}`).sort() : [];

/** `height` defaults to `width`, and scale factors are a set. */
const normalTiles = (tiles: unknown) =>
  Array.isArray(tiles)
    ? (tiles as Array<{ width: number; height?: number; scaleFactors?: number[] }>)
        .map((t) => `${t.width}x${t.height ?? t.width}@${[...(t.scaleFactors ?? [])].sort((x, y) => x - y).join(',')}`)
        .sort()
    : [];

/** `level2` from 3.0's `profile` or from 2.1's compliance URI. */
function profileLevel(j: Json): string | undefined {
  const first: unknown = Array.isArray(j.profile) ? j.profile[0] : j.profile;
  return typeof first === 'string' ? /level[0-2]/.exec(first)?.[0] : undefined;
}

function idHost(j: Json): string | undefined {
  const id = j.id ?? j['@id'];
  try {
    return typeof id === 'string' ? new URL(id).host : undefined;
  } catch {
    return undefined;
  }
}
