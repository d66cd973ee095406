import { readFile, writeFile } from 'node:fs/promises';
import sharp from 'sharp';
import { UsageError } from './args.ts';
import { forEachLimited } from './pool.ts';
import { startProgress } from './progress.ts';
import { diffUrl, type DiffOptions, type UrlResult } from './url-diff.ts';
import { pathsFromLines, viewerPaths, type ViewerInfo } from './url-sources.ts';

export interface CompareOptions extends DiffOptions {
  oldBase: string;
  newBase: string;
  urls?: string;
  ids?: string;
  concurrency: number;
  /** URLs (each asked of both servers) started per second; 0 for no limit. */
  rate: number;
  report?: string;
}

/** Replays the listed requests against both servers; exit 1 when any differs, for a CI gate. */
export async function runCompare(o: CompareOptions): Promise<number> {
  if ((o.urls === undefined) === (o.ids === undefined)) throw new UsageError('give one of --urls FILE or --ids FILE');
  const listFile = (o.urls ?? o.ids) as string;
  const text = await readFile(listFile, 'utf8').catch(() => {
    throw new UsageError(`cannot read ${listFile}`);
  });
  // An unwritable report is an argument error, found before the replay rather than after it.
  if (o.report !== undefined) {
    await writeFile(o.report, '').catch(() => {
      throw new UsageError(`cannot write the report to ${o.report}`);
    });
  }
  sharp.cache(false);
  const { paths, ignored, notes } = o.urls !== undefined ? urlPaths(text, o.oldBase) : await idPaths(text, o);
  if (paths.length === 0) throw new UsageError(`${listFile} holds no IIIF request under ${new URL(o.oldBase).pathname}`);
  const results: UrlResult[] = [];
  const progress = startProgress('compare', paths.length);
  await forEachLimited(
    paths,
    o.concurrency,
    async (path) => {
      const result = await diffUrl(sharp, o.oldBase, o.newBase, path, o);
      results.push(result);
      if (result.differences.length > 0) progress.log(`differs: ${path}: ${result.differences.join('; ')}`);
      progress.tick((result.old.bytes ?? 0) + (result.new.bytes ?? 0));
    },
    o.rate > 0 ? 1000 / o.rate : 0,
  );
  progress.stop();
  results.sort((x, y) => x.path.localeCompare(y.path));
  const differing = results.filter((r) => r.differences.length > 0);
  const report = {
    old: o.oldBase,
    new: o.newBase,
    threshold: o.threshold,
    localThreshold: o.localThreshold,
    urls: results.length,
    same: results.length - differing.length,
    differ: differing.length,
    ignoredLines: ignored,
    notes,
    results,
  };
  if (o.report !== undefined) await writeFile(o.report, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(summaryTable(results, o.threshold, o.localThreshold));
  return differing.length > 0 ? 1 : 0;
}

function urlPaths(text: string, oldBase: string) {
  return { ...pathsFromLines(text, new URL(oldBase).pathname.replace(/\/+$/, '')), notes: [] as string[] };
}

/** Each identifier's viewer set, built from the old server's info.json: what viewers see today. */
async function idPaths(text: string, o: CompareOptions) {
  const ids = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const paths: string[] = [];
  const notes: string[] = [];
  for (const id of ids) {
    const url = `${o.oldBase}/${encodeURIComponent(id)}/info.json`;
    const info = await fetch(url, { signal: AbortSignal.timeout(o.timeoutMs) })
      .then(async (res) => (res.ok ? viewerInfo((await res.json()) as Record<string, unknown>) : undefined))
      .catch(() => undefined);
    // Without the old info.json only info.json itself is compared (and reported as it differs).
    if (!info) notes.push(`${id}: no usable info.json on the old server, only info.json compared`);
    paths.push(...(info ? viewerPaths(id, info) : [`${encodeURIComponent(id)}/info.json`]));
  }
  return { paths: [...new Set(paths)], ignored: 0, notes };
}

function viewerInfo(j: Record<string, unknown>): ViewerInfo | undefined {
  const context = JSON.stringify(j['@context'] ?? '');
  if (typeof j.width !== 'number' || typeof j.height !== 'number' || j.width < 1 || j.height < 1) return undefined;
  return {
    version: context.includes('/image/3/') ? 3 : 2,
    width: j.width,
    height: j.height,
    ...(Array.isArray(j.tiles) ? { tiles: j.tiles as ViewerInfo['tiles'] } : {}),
    ...(Array.isArray(j.sizes) ? { sizes: j.sizes as ViewerInfo['sizes'] } : {}),
  };
}

const CHECKS: Array<[string, RegExp]> = [
  ['request failed', /^request failed/],
  ['status', /^status/],
  ['content type', /^content type/],
  ['info.json', /^info\.json/],
  ['not decodable', /^not decodable/],
  ['output size', /^size/],
  ['pixels', /^pixels/],
  ['area', /^a \d+×\d+ area/],
];
const LISTED = 20;

/** Counts per check, then the first differing URLs with their reasons. */
function summaryTable(results: UrlResult[], threshold: number, localThreshold: number): string {
  const differing = results.filter((r) => r.differences.length > 0);
  const lines = [`${'check'.padEnd(16)}differ`];
  for (const [name, test] of CHECKS) {
    const label = name === 'pixels' ? `pixels (>${threshold})` : name === 'area' ? `16² area (>${localThreshold})` : name;
    lines.push(`${label.padEnd(16)}${results.filter((r) => r.differences.some((d) => test.test(d))).length}`);
  }
  lines.push(`URLs: ${results.length} compared, ${results.length - differing.length} same, ${differing.length} differ`);
  for (const r of differing.slice(0, LISTED)) lines.push(`  ${r.path}: ${r.differences.join('; ')}`);
  if (differing.length > LISTED) lines.push(`  … ${differing.length - LISTED} more in the JSON report`);
  return `${lines.join('\n')}\n`;
}
