import type { LoadResult } from './load.ts';
import type { LoopResult } from './sharp-loop.ts';
import type { Workload } from './workloads.ts';

export interface Row {
  workload: Workload;
  ours?: LoadResult;
  reference?: LoadResult;
  loop?: LoopResult;
  oursRss?: number;
  referenceRss?: number;
  /** Verification failures and error counts, shown under the table. */
  problems: string[];
}

export interface Context {
  command: string;
  lines: string[];
}

/** Peak RSS of ours may be at most this fraction of the reference's (issue 7). */
const RSS_TARGET = 0.25;

const rate = (r?: { rps: number }) => (r ? (r.rps >= 100 ? r.rps.toFixed(0) : r.rps.toFixed(1)) : '—');
const lat = (r?: { p50: number; p99: number }) => (r ? `${fmtMs(r.p50)} / ${fmtMs(r.p99)}` : '—');
const fmtMs = (ms: number) => (Number.isInteger(ms) || ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));
const mb = (bytes?: number) => (bytes ? `${(bytes / 2 ** 20).toFixed(0)} MB` : '—');

function ratio(ours: { rps: number } | undefined, other: { rps: number } | undefined, target?: number): string {
  if (!ours || !other || other.rps === 0) return '—';
  const r = ours.rps / other.rps;
  const text = r >= 10 ? `${r.toFixed(0)}×` : `${r.toFixed(2)}×`;
  if (target === undefined) return text;
  return `${text} (≥${target}× ${r >= target ? '✔' : '✘'})`;
}

export function render(rows: Row[], context: Context): string {
  const out: string[] = ['# iiif-edge benchmark', '', `Command: \`${context.command}\``, '', ...context.lines.map((l) => `- ${l}`), ''];

  out.push(
    '| workload | ours req/s | ours p50 / p99 ms | reference req/s | reference p50 / p99 ms | ours ÷ reference | sharp loop /s | sharp loop p50 / p99 ms | ours ÷ sharp loop |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|',
  );
  for (const r of rows) {
    const t = r.workload.targets;
    out.push(
      `| ${r.workload.title} | ${rate(r.ours)} | ${lat(r.ours)} | ${rate(r.reference)} | ${lat(r.reference)} | ${ratio(r.ours, r.reference, t.vsReference)} | ${rate(r.loop)} | ${lat(r.loop)} | ${ratio(r.ours, r.loop, t.vsSharp)} |`,
    );
  }

  out.push('', '| workload | ours peak RSS | reference peak RSS | ours ÷ reference |', '|---|--:|--:|--:|');
  let oursPeak = 0;
  let refPeak = 0;
  for (const r of rows) {
    oursPeak = Math.max(oursPeak, r.oursRss ?? 0);
    refPeak = Math.max(refPeak, r.referenceRss ?? 0);
    const q = r.oursRss && r.referenceRss ? (r.oursRss / r.referenceRss).toFixed(2) : '—';
    out.push(`| ${r.workload.title} | ${mb(r.oursRss)} | ${mb(r.referenceRss)} | ${q} |`);
  }
  if (oursPeak && refPeak) {
    const q = oursPeak / refPeak;
    out.push(`| **peak under load, all workloads** | **${mb(oursPeak)}** | **${mb(refPeak)}** | **${q.toFixed(2)} (≤${RSS_TARGET} ${q <= RSS_TARGET ? '✔' : '✘'})** |`);
  }

  const problems = rows.flatMap((r) => r.problems.map((p) => `${r.workload.title}: ${p}`));
  if (problems.length > 0) out.push('', '**Problems**', '', ...problems.map((p) => `- ${p}`));
  return `${out.join('\n')}\n`;
}
