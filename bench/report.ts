import type { ColdStart } from './cold-start.ts';
import type { LoadResult } from './load.ts';
import type { SessionResult } from './session.ts';
import type { LoopResult } from './sharp-loop.ts';
import type { Workload } from './workloads.ts';

export interface Row {
  workload: Workload;
  ours?: LoadResult;
  reference?: LoadResult;
  loop?: LoopResult;
  oursRss?: number;
  referenceRss?: number;
  /** The HTTP ceiling for a response of `meanBytes` (bench/ceiling.ts), same run. */
  ceiling?: LoadResult;
  /** The ceiling answering the workload's sampled response sizes in turn. */
  ceilingSameSizes?: LoadResult;
  meanBytes?: number;
  /** CPU per request (µs, the server's processes, all threads) of our run and of the mean-size ceiling run. */
  oursCpuUs?: number;
  ceilingCpuUs?: number;
  /** IIPImage without its cache, and with its default 10 MB one (bench/iipimage.ts); rss sums its processes. */
  iipImage?: LoadResult & { rss: number };
  iipImageCached?: LoadResult & { rss: number };
  /** Verification failures and error counts, shown under the table. */
  problems: string[];
}

export interface Context {
  command: string;
  lines: string[];
  coldStart?: ColdStart;
  session?: SessionReport;
}

export interface SessionReport {
  requests: number;
  /** Medians over `runs` fresh processes; `failed` counts failed requests in all of them. */
  ours: SessionRuns;
  reference: { fresh: SessionResult; warm: SessionResult };
  /** Ours, warm, on the Q75 4:2:0 pyramid. */
  q75: SessionResult;
  /** The ceiling server answering the session's sizes in order (median): the client's and loopback's share. */
  floor: SessionResult;
  /** Medians over `runs` fresh IIPImage servers, without and with its cache. */
  iipImage?: SessionRuns;
  iipImageCached?: SessionRuns;
}

export interface SessionRuns {
  fresh: SessionResult;
  warm: SessionResult;
  runs: number;
  failed: number;
}

/** Issue 17: a fresh-server session at most this fraction of IIPImage's (without its cache). */
const SESSION_VS_IIPIMAGE = 0.5;

/** Issue 15: spawn → first info.json of either bundle. */
const COLD_START_TARGET_MS = 150;

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
    const cap = r.workload.targets.maxRssMb;
    const ours = cap && r.oursRss ? `${mb(r.oursRss)} (≤${cap} MB ${r.oursRss <= cap * 2 ** 20 ? '✔' : '✘'})` : mb(r.oursRss);
    out.push(`| ${r.workload.title} | ${ours} | ${mb(r.referenceRss)} | ${q} |`);
  }
  if (oursPeak && refPeak) {
    const q = oursPeak / refPeak;
    out.push(`| **peak under load, all workloads** | **${mb(oursPeak)}** | **${mb(refPeak)}** | **${q.toFixed(2)} (≤${RSS_TARGET} ${q <= RSS_TARGET ? '✔' : '✘'})** |`);
  }

  const capped = rows.filter((r) => r.ceiling);
  if (capped.length > 0) {
    out.push(
      '',
      'HTTP ceiling: a minimal Node server answering every request with one fixed buffer of the workload\'s mean response size (bench/ceiling.ts), same run; and the same server answering the sizes of 64 sampled responses of the workload in turn. CPU per request is the server\'s own (its process, all threads, from /proc, over each 10-s run), whatever share of the cores the load generator left it in that run: the ceiling\'s ÷ ours is the fraction of the ceiling\'s efficiency we reach.',
      '',
      '| workload | mean response | ceiling req/s (mean size) | ceiling req/s (same sizes) | ours req/s | ours ÷ ceiling (mean size) | ours ÷ ceiling (same sizes) | CPU per request: ceiling / ours | ceiling ÷ ours (CPU) |',
      '|---|--:|--:|--:|--:|--:|--:|--:|--:|',
    );
    const cpu = (r: Row) =>
      r.ceilingCpuUs === undefined || r.oursCpuUs === undefined
        ? ['—', '—']
        : [`${r.ceilingCpuUs.toFixed(0)} / ${r.oursCpuUs.toFixed(0)} µs`, `${((100 * r.ceilingCpuUs) / r.oursCpuUs).toFixed(0)}%`];
    const share = (ours: LoadResult | undefined, ceiling: LoadResult | undefined, target?: number) => {
      if (!ours || !ceiling?.rps) return '—';
      const q = ours.rps / ceiling.rps;
      return `${(100 * q).toFixed(0)}%${target === undefined ? '' : ` (≥${100 * target}% ${q >= target ? '✔' : '✘'})`}`;
    };
    for (const r of capped) {
      out.push(
        `| ${r.workload.title} | ${((r.meanBytes ?? 0) / 1024).toFixed(1)} KB | ${rate(r.ceiling)} | ${rate(r.ceilingSameSizes)} | ${rate(r.ours)} | ${share(r.ours, r.ceiling, r.workload.targets.vsCeiling)} | ${share(r.ours, r.ceilingSameSizes)} | ${cpu(r).join(' | ')} |`,
      );
    }
  }
  const against = rows.filter((r) => r.iipImage || r.iipImageCached);
  if (against.length > 0) {
    out.push(
      '',
      'Against IIPImage in the same run (its processes and lighttpd on the same machine; RSS is the sum of its processes\' peaks):',
      '',
      '| workload | ours req/s | IIPImage, no cache, req/s | p50 / p99 ms | ours ÷ IIPImage | IIPImage, 10 MB cache, req/s | p50 / p99 ms | ours ÷ IIPImage cached | IIPImage peak RSS (no cache / cache) |',
      '|---|--:|--:|--:|--:|--:|--:|--:|--:|',
    );
    for (const r of against) {
      const t = r.workload.targets;
      out.push(
        `| ${r.workload.title} | ${rate(r.ours)} | ${rate(r.iipImage)} | ${lat(r.iipImage)} | ${ratio(r.ours, r.iipImage, t.vsIipImage)} | ${rate(r.iipImageCached)} | ${lat(r.iipImageCached)} | ${ratio(r.ours, r.iipImageCached, t.vsIipImageCached)} | ${mb(r.iipImage?.rss)} / ${mb(r.iipImageCached?.rss)} |`,
      );
    }
  }
  // Issue 16: edge tiles against aligned ones, on a first visit (every request crops) and cached.
  const rps = (id: string) => rows.find((r) => r.workload.id === id)?.ours?.rps;
  const aligned = rps('aligned');
  const first = rps('edge-first');
  const cached = rps('edge-all');
  if (aligned && (first || cached)) {
    const share = (x: number | undefined, target: number) =>
      x === undefined ? '—' : `${((100 * x) / aligned).toFixed(0)}% (≥${target}% ${x >= (target / 100) * aligned ? '✔' : '✘'})`;
    out.push('', `Edge tiles of every level ÷ aligned full-resolution tiles: first pass ${share(first, 60)}, cached ${share(cached, 100)}.`);
  }
  if (context.session) {
    const { requests, ours, reference, q75, floor } = context.session;
    const megabytes = (s: SessionResult) => `${(s.bytes / 2 ** 20).toFixed(1)} MB`;
    const cells = (s: SessionResult) => `${s.ms.toFixed(0)} ms${s.failed ? ` (${s.failed} failed)` : ''}`;
    out.push(
      '',
      `Viewer session (bench/sessions/openseadragon.txt, ${requests} requests, info.json first, then 8 at once on kept-alive node:http sockets):`,
      '',
      '| server | fresh process | warm | bytes per session |',
      '|---|--:|--:|--:|',
      `| iiif-edge (median of ${ours.runs} processes) | ${cells(ours.fresh)} | ${cells(ours.warm)} | ${megabytes(ours.warm)} |`,
      `| reference | ${cells(reference.fresh)} | ${cells(reference.warm)} | ${megabytes(reference.warm)} |`,
      `| iiif-edge, Q75 4:2:0 pyramid | — | ${cells(q75)} | ${megabytes(q75)} |`,
      `| floor: the ceiling server, same sizes (median of ${ours.runs}) | — | ${cells(floor)} | ${megabytes(floor)} |`,
    );
    const { iipImage, iipImageCached } = context.session;
    if (iipImage) out.push(`| IIPImage, no cache (median of ${iipImage.runs}) | ${cells(iipImage.fresh)} | ${cells(iipImage.warm)} | ${megabytes(iipImage.warm)} |`);
    if (iipImageCached) out.push(`| IIPImage, 10 MB cache (median of ${iipImageCached.runs}) | ${cells(iipImageCached.fresh)} | ${cells(iipImageCached.warm)} | ${megabytes(iipImageCached.warm)} |`);
    if (iipImage) {
      const q = ours.fresh.ms / iipImage.fresh.ms;
      const failed = ours.failed + iipImage.failed;
      const verdict = failed > 0 ? `✘: ${ours.failed} of ours' and ${iipImage.failed} of IIPImage's session requests failed` : q <= SESSION_VS_IIPIMAGE ? '✔' : '✘';
      // Time above the floor is the servers' own share of a session.
      const above = (a: SessionResult, b: SessionResult) => ((a.ms - floor.ms) / Math.max(1, b.ms - floor.ms)).toFixed(2);
      out.push(
        '',
        `Fresh-process session, ours ÷ IIPImage without cache: ${q.toFixed(2)} (≤${SESSION_VS_IIPIMAGE} ${verdict}); warm: ${(ours.warm.ms / iipImage.warm.ms).toFixed(2)}. The same, each less the floor: fresh ${above(ours.fresh, iipImage.fresh)}, warm ${above(ours.warm, iipImage.warm)}.`,
      );
    }
  }
  if (context.coldStart) {
    const { nodeMs, lambdaMs, floorMs, runs } = context.coldStart;
    const mark = (ms: number) => `${ms.toFixed(0)} ms (≤${COLD_START_TARGET_MS} ${ms <= COLD_START_TARGET_MS ? '✔' : '✘'})`;
    out.push(
      '',
      `Cold start, spawn → first info.json answered (fs source, bundled samples), median of ${runs}: Node bundle ${mark(nodeMs)}, Lambda bundle ${mark(lambdaMs)}; a bare node:http server answering \`{}\`, started the same way: ${floorMs.toFixed(0)} ms.`,
    );
  }

  const problems = rows.flatMap((r) => r.problems.map((p) => `${r.workload.title}: ${p}`));
  for (const [name, runs] of [['iiif-edge', context.session?.ours], ['IIPImage', context.session?.iipImage], ['IIPImage with cache', context.session?.iipImageCached]] as const) {
    if (runs?.failed) problems.push(`viewer session: ${runs.failed} of ${name}'s requests failed over ${runs.runs} fresh processes (each replayed twice)`);
  }
  if (problems.length > 0) out.push('', '**Problems**', '', ...problems.map((p) => `- ${p}`));
  return `${out.join('\n')}\n`;
}
