import { constants } from 'node:fs';
import { access, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { UsageError } from './args.ts';
import { IGNORABLE } from './compare-info.ts';
import { firstLine } from './convert.ts';
import type { UrlResult } from './url-diff.ts';

/** The file a path names, through symlinks, whether or not it exists yet. */
async function target(path: string): Promise<string> {
  const absolute = resolve(path);
  const real = await realpath(absolute).catch(() => undefined);
  return real ?? join(await realpath(dirname(absolute)).catch(() => dirname(absolute)), basename(absolute));
}

/**
 * Checks --report before any request (an argument error, not one found hours later) without
 * touching it: an earlier report stays until this run has a whole one. Returns the file to replace.
 */
export async function reportTarget(report: string, listFile: string): Promise<string> {
  const file = await target(report);
  const [was, list] = await Promise.all([stat(file).catch(() => undefined), stat(listFile).catch(() => undefined)]);
  // By name, through links, or as another hard link to the same file.
  const same = file === (await target(listFile)) || (was !== undefined && list !== undefined && was.dev === list.dev && was.ino === list.ino);
  if (same) throw new UsageError(`--report ${report} is the list being read; give another file`);
  const writable = was?.isDirectory() !== true && (await access(dirname(file), constants.W_OK).then(() => true, () => false));
  if (!writable) throw new UsageError(`cannot write the report to ${report}`);
  return file;
}

/** Written whole to a temporary file beside it, then renamed over it: never a half or empty report. */
export async function writeReport(file: string, report: unknown): Promise<void> {
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    await writeFile(temp, `${JSON.stringify(report, null, 2)}\n`);
    await rename(temp, file);
  } catch (e) {
    await rm(temp, { force: true });
    throw new Error(`cannot write the report to ${file}: ${firstLine(e)}`);
  }
}

/** A URL whose old answer is no 2xx was compared by its status alone. */
export const oldAnswered = (r: UrlResult): boolean => r.old.status >= 200 && r.old.status < 300;

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

/** Counts per check, what was not compared, then the first differing URLs with their reasons. */
export function summaryTable(results: UrlResult[], threshold: number, localThreshold: number): string {
  const differing = results.filter((r) => r.differences.length > 0);
  const lines = [`${'check'.padEnd(16)}differ`];
  for (const [name, test] of CHECKS) {
    const label = name === 'pixels' ? `pixels (>${threshold})` : name === 'area' ? `16² area (>${localThreshold})` : name;
    lines.push(`${label.padEnd(16)}${results.filter((r) => r.differences.some((d) => test.test(d))).length}`);
  }
  lines.push(`URLs: ${results.length} replayed, ${results.length - differing.length} same, ${differing.length} differ`);
  lines.push(`no 2xx from the old server: ${results.filter((r) => !oldAnswered(r)).length} (only their status compared)`);
  const ignored = IGNORABLE.map((check) => {
    const test = new RegExp(`^(info\\.json )?${check} `);
    return [check, results.filter((r) => r.ignored?.some((d) => test.test(d))).length] as const;
  }).filter(([, n]) => n > 0);
  if (ignored.length > 0) lines.push(`ignored (--ignore): ${ignored.map(([check, n]) => `${check} ${n}`).join(', ')}`);
  const skipped = results.filter((r) => r.skipped !== undefined).length;
  if (skipped > 0) lines.push(`pixels not compared (over --max-pixels): ${skipped}`);
  for (const r of differing.slice(0, LISTED)) lines.push(`  ${r.path}: ${r.differences.join('; ')}`);
  if (differing.length > LISTED) lines.push(`  … ${differing.length - LISTED} more in the JSON report`);
  return `${lines.join('\n')}\n`;
}
