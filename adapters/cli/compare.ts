import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { UsageError } from './args.ts';
import { idPaths } from './compare-ids.ts';
import { oldAnswered, reportTarget, summaryTable, writeReport } from './compare-report.ts';
import { forEachLimited, startPacer } from './pool.ts';
import { startProgress } from './progress.ts';
import { diffUrl, type DiffOptions, type UrlResult } from './url-diff.ts';
import { pathsFromLines } from './url-sources.ts';

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

/** Exit codes, for a CI gate. */
export const SAME = 0;
export const DIFFER = 1;
/** No URL got a 2xx from the old server: nothing but statuses was compared, which proves nothing. */
export const NOTHING_COMPARED = 3;

const note = (line: string) => process.stderr.write(`compare: ${line}\n`);

/** Replays the listed requests against both servers and reports every difference. */
export async function runCompare(o: CompareOptions): Promise<number> {
  if ((o.urls === undefined) === (o.ids === undefined)) throw new UsageError('give one of --urls FILE or --ids FILE');
  const listFile = (o.urls ?? o.ids) as string;
  const text = await readFile(listFile, 'utf8').catch(() => {
    throw new UsageError(`cannot read ${listFile}`);
  });
  const reportFile = o.report !== undefined ? await reportTarget(o.report, listFile) : undefined;
  sharp.cache(false);
  const basePath = new URL(o.oldBase).pathname.replace(/\/+$/, '');
  // One pace for the info.json reads and the replay: --rate bounds what the old server gets throughout.
  const pace = startPacer(o.rate > 0 ? 1000 / o.rate : 0);
  // Exits, rather than dies, on Ctrl-C: the progress bars (info.json reads, replay) then give the
  // terminal its cursor back.
  const interrupted = (signal: NodeJS.Signals) => process.exit(signal === 'SIGINT' ? 130 : 143);
  process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
  const { paths, ignored, notes } =
    o.urls !== undefined
      ? { ...pathsFromLines(text, basePath), notes: [] }
      : { ...(await idPaths(text, o.oldBase, { timeoutMs: o.timeoutMs, concurrency: o.concurrency, pace })), ignored: 0 };
  if (paths.length === 0) throw new UsageError(`${listFile} holds no IIIF request under ${basePath}`);
  if (ignored > 0) note(`${ignored} lines of ${listFile} hold no IIIF request under ${basePath}, ignored`);
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
    pace,
  );
  progress.stop();
  process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
  results.sort((x, y) => x.path.localeCompare(y.path));
  const differing = results.filter((r) => r.differences.length > 0).length;
  const oldNot2xx = results.filter((r) => !oldAnswered(r)).length;
  if (reportFile !== undefined) {
    await writeReport(reportFile, {
      old: o.oldBase,
      new: o.newBase,
      threshold: o.threshold,
      localThreshold: o.localThreshold,
      ignore: [...o.ignore],
      urls: results.length,
      same: results.length - differing,
      differ: differing,
      oldNot2xx,
      ignoredLines: ignored,
      notes,
      results,
    });
  }
  process.stdout.write(summaryTable(results, o.threshold, o.localThreshold));
  if (oldNot2xx > 0 && oldNot2xx < results.length) {
    note(`${oldNot2xx} of ${results.length} URLs got no 2xx from the old server: only their statuses were compared`);
  }
  if (oldNot2xx === results.length) {
    note(`nothing was compared: the old server answered none of the ${results.length} URLs with 2xx (exit ${NOTHING_COMPARED})`);
    return NOTHING_COMPARED;
  }
  return differing > 0 ? DIFFER : SAME;
}
