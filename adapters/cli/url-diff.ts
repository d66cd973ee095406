import type { Sharp, SharpOptions } from 'sharp';
import { isJpeg2000 } from '../../src/jp2/index.ts';
import { probeJp2Geometry } from '../../src/jp2/probe.ts';
import { nodeJp2Codec } from '../../src/renderers/sharp-jp2.ts';
import { diffInfo } from './compare-info.ts';
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
  /** Differences in the checks named by --ignore: reported, not counted. */
  ignored?: string[];
  /** Why the pixels were not compared (outputs over --max-pixels whose bytes differ). */
  skipped?: string;
}

export interface DiffOptions {
  threshold: number;
  /** Largest mean difference of any 16×16 area still counted the same. */
  localThreshold: number;
  timeoutMs: number;
  /** Larger outputs are not decoded (bounded memory). */
  maxPixels: number;
  /** Checks whose differences are reported as ignored (--ignore). */
  ignore: ReadonlySet<string>;
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
    return { fetched: { ...fetched, error: requestError(e) } };
  }
}

/** fetch's own message is only "fetch failed": its cause says why (refused, reset, redirect loop). */
function requestError(e: unknown): string {
  const cause = e instanceof Error && e.cause instanceof Error ? firstLine(e.cause) : undefined;
  if (cause === 'redirect count exceeded') return 'redirect loop (more than 20 redirects)';
  return cause ? `${firstLine(e)}: ${cause}` : firstLine(e);
}

/** The body, or undefined past `max` bytes (the rest is not read). */
export async function readAtMost(res: Response, max: number): Promise<Uint8Array | undefined> {
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
  const differ = (check: string, what: string) => (o.ignore.has(check) ? (result.ignored ??= []) : result.differences).push(what);
  result.differences.push(...bySide('request failed', a.fetched.error, b.fetched.error));
  if (a.fetched.status !== b.fetched.status) differ('status', `status ${a.fetched.status} → ${b.fetched.status}`);
  if (a.fetched.status >= 300 || b.fetched.status >= 300 || !a.bytes || !b.bytes) return result;
  if (a.fetched.contentType !== b.fetched.contentType) differ('content type', `content type ${a.fetched.contentType} → ${b.fetched.contentType}`);
  if (path.endsWith('/info.json')) {
    const diffs = diffInfo(a.bytes, b.bytes);
    result.infoDiffs = diffs.map((d) => d.text);
    const counted = diffs.filter((d) => !o.ignore.has(d.check));
    if (counted.length > 0) result.differences.push(`info.json ${counted.map((d) => d.text).join(', ')}`);
    for (const d of diffs.filter((d) => o.ignore.has(d.check))) differ(d.check, `info.json ${d.text}`);
    return result;
  }
  const [pa, pb] = await Promise.all([pixels(sharp, a.bytes, o.maxPixels), pixels(sharp, b.bytes, o.maxPixels)]);
  describe(a.fetched, pa);
  describe(b.fetched, pb);
  if ('error' in pa || 'error' in pb) {
    result.differences.push(...bySide('not decodable', 'error' in pa ? pa.error : undefined, 'error' in pb ? pb.error : undefined));
    return result;
  }
  if (pa.width !== pb.width || pa.height !== pb.height) {
    differ('output size', `size ${pa.width}×${pa.height} → ${pb.width}×${pb.height}`);
    return result;
  }
  if (!pa.data || !pb.data) {
    // Over --max-pixels: the same bytes are the same pixels; other bytes are left unjudged, not called different.
    if (Buffer.compare(a.bytes, b.bytes) === 0) Object.assign(result, { meanAbsDiff: 0, worstBlockDiff: 0 });
    else result.skipped = `pixels not compared: ${pa.width}×${pa.height} is over --max-pixels ${o.maxPixels}`;
    return result;
  }
  const { mean, worstBlock } = differences({ ...pa, data: pa.data }, { data: pb.data });
  result.meanAbsDiff = Number(mean.toFixed(3));
  result.worstBlockDiff = Number(worstBlock.toFixed(3));
  if (result.meanAbsDiff > o.threshold) differ('pixels', `pixels differ by ${result.meanAbsDiff} (threshold ${o.threshold})`);
  // A mean over the whole image hides a small area gone wrong (a patch, a watermark, a missing tile).
  else if (result.worstBlockDiff > o.localThreshold) differ('area', `a ${BLOCK}×${BLOCK} area differs by ${result.worstBlockDiff} (local threshold ${o.localThreshold})`);
  return result;
}

/** `what` with the server it happened on, so that a reader knows which one to look at. */
function bySide(what: string, oldError: string | undefined, newError: string | undefined): string[] {
  if (oldError !== undefined && oldError === newError) return [`${what} on both servers: ${oldError}`];
  const out: string[] = [];
  if (oldError !== undefined) out.push(`${what} on the old server: ${oldError}`);
  if (newError !== undefined) out.push(`${what} on the new server: ${newError}`);
  return out;
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

/** Decoded pixels, or only the size of an output over --max-pixels (not decoded), or why it cannot be read. */
type Pixels = { width: number; height: number; data?: Uint8Array } | { error: string };

function describe(side: Fetched, p: Pixels): void {
  if ('error' in p) side.error = p.error;
  else Object.assign(side, { width: p.width, height: p.height });
}

const PDF = new TextEncoder().encode('%PDF-');

interface Readable {
  width: number;
  height: number;
  decode(): Promise<{ input: Uint8Array; options: SharpOptions }>;
}

/**
 * What sharp can read, sized from its header before any decoding: jp2 decoded by our OpenJPEG
 * build (sharp's libvips has none), and a pdf's image, the JPEG of its first DCTDecode stream
 * (a IIIF pdf is one page holding the render).
 */
async function readable(sharp: SharpFactory, bytes: Uint8Array, maxPixels: number): Promise<Readable> {
  const options: SharpOptions = { limitInputPixels: maxPixels, failOn: 'error' };
  if (isJpeg2000(bytes)) {
    const geometry = await probeJp2Geometry(bytes, async (at, length) => bytes.subarray(at, at + length), bytes.length);
    if (!geometry) throw new Error('unreadable JPEG 2000 header');
    const decode = async () => {
      const px = (await nodeJp2Codec()).decode(bytes, { reduce: 0, maxBytes: maxPixels * 4 });
      return { input: px.data, options: { ...options, raw: { width: px.width, height: px.height, channels: px.channels } } };
    };
    return { width: geometry.width, height: geometry.height, decode };
  }
  let input = bytes;
  if (PDF.every((b, i) => bytes[i] === b)) {
    // pdf-lib takes about 100 ms to import: only a run that meets a pdf loads it.
    const image = await (await import('./pdf-image.ts')).pdfImage(bytes);
    if (!image) throw new Error('a pdf without an image we can read (JPEG, or Flate grey, RGB or palette)');
    if ('pixels' in image) {
      const { width, height, channels } = image;
      return { width, height, decode: async () => ({ input: image.pixels(), options: { ...options, raw: { width, height, channels } } }) };
    }
    input = image.encoded;
  }
  // The header alone: the pixel limit is for decoding, which an output over it never reaches.
  const { width, height } = await sharp(input, { limitInputPixels: false }).metadata();
  if (!width || !height) throw new Error('no image size in its header');
  return { width, height, decode: async () => ({ input, options }) };
}

/** 8-bit sRGB without alpha (flattened on white), so grey, RGB and RGBA outputs compare alike. */
async function pixels(sharp: SharpFactory, bytes: Uint8Array, maxPixels: number): Promise<Pixels> {
  try {
    const source = await readable(sharp, bytes, maxPixels);
    if (source.width * source.height > maxPixels) return { width: source.width, height: source.height };
    const { input, options } = await source.decode();
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
