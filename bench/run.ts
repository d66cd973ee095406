import { execFileSync } from 'node:child_process';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { buildNodeBundle } from '../adapters/node/build.ts';
import { bodySizes, mean } from './ceiling.ts';
import { coldStart } from './cold-start.ts';
import { iipImageInstalled, startIipImage } from './iipimage.ts';
import { type SessionResult, replaySession, sessionPaths } from './session.ts';
import { ensureFixtures, scaleFromEnv, type Fixtures } from './fixtures.ts';
import { load } from './load.ts';
import { type Child, startChild, waitIdle, watchPeakRss, withCpu } from './processes.ts';
import { type Context, render, type Row, type SessionReport } from './report.ts';
import { loop } from './sharp-loop.ts';
import { check } from './verify.ts';
import { type Workload, workloads } from './workloads.ts';

/**
 * `npm run bench` (issue 7): iiif-edge and the serverless-iiif engine
 * (iiif-processor) as child processes on 127.0.0.1, the same viewer
 * workloads against both with autocannon, plus sharp in-process as the
 * physical reference for a per-request renderer.
 *
 * BENCH_SCALE=small   small fixtures, for a quick run
 * BENCH_SECONDS=10    measured seconds per workload and contestant
 * BENCH_CONNECTIONS=8 concurrency
 * BENCH_ONLY=a,b      only these workload ids (info, aligned, mid, edge, region, thumb-tiff, thumb-jpeg, png-max, jp2-info, jp2-aligned, jp2-mid, jp2-thumb,
 *                     aligned-q75, edge-all, edge-first) and/or cold-start, session
 * BENCH_OUT=path      where to write the table (default: bench/results/latest.md for a full run)
 * REF_DIMENSIONS=stream  reference without object metadata (a second full read per request)
 * BENCH_IIPIMAGE=0    leave IIPImage out even where it is installed
 * BENCH_IIPIMAGE_PROCESSES=n  iipsrv FastCGI processes (default: one per CPU)
 *
 * IIPImage 1.1 (Debian's iipimage-server behind lighttpd, bench/iipimage.ts) is measured on the
 * TIFF and JP2 workloads it can serve, without its cache and with its default 10 MB one, when
 * both packages are installed; the report says when they were not.
 */
const ROOT = new URL('..', import.meta.url).pathname;
const PREFIX = '/iiif/3/';
const log = (msg: string) => process.stderr.write(`${msg}\n`);

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive whole number, not ${JSON.stringify(raw)}`);
  return n;
}

/**
 * A size as IIPImage's viewers ask for it: it speaks Image API 2.1 (its info.json is a 2.1 document
 * even under /iiif/3/), where tiles are `w,`; `w,h` sends iipsrv 1.1 to its slower CVT handler.
 */
const v2Size = (path: string) => path.replace(/\/(\d+),\d+(\/0\/default\.jpg)$/, '/$1,$2');

function packageVersion(name: string): string {
  try {
    return execFileSync('dpkg-query', ['-W', '-f', '${Version}', name], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown version';
  }
}

function gitDescription(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).trim();
    return dirty ? `${head} + uncommitted changes` : head;
  } catch {
    return 'unknown';
  }
}

async function fileMb(path: string): Promise<string> {
  return `${((await stat(path)).size / 2 ** 20).toFixed(1)} MB`;
}

async function verify(w: Workload, server: Child): Promise<string | undefined> {
  const probes = [...new Set([w.paths[0]!, w.paths[w.paths.length - 1]!])];
  for (const path of probes) {
    // Only the first path is guaranteed to have the expected size (edge tiles differ).
    const expect = path === w.paths[0] ? w.expect : { ...w.expect, width: 0, height: 0, slack: Number.MAX_SAFE_INTEGER };
    const result = await check(`${server.url}${PREFIX}${path}`, expect);
    if (!result.ok) return `${server.name} failed ${PREFIX}${path}: ${result.detail}`;
    log(`  ${server.name.padEnd(9)} ${PREFIX}${path} → ${result.detail}`);
  }
  return undefined;
}

async function measure(w: Workload, server: Child, connections: number, seconds: number) {
  const pids = server.pids ?? [server.pid];
  const peaks = await Promise.all(pids.map(watchPeakRss));
  const { result, cpuUs } = await withCpu(pids, connections, () => load({ base: server.url, paths: w.paths.map((p) => PREFIX + p), connections, seconds }));
  // Several processes: the sum of their peaks, an upper bound of their peak together.
  const rss = (await Promise.all(peaks.map((peak) => peak()))).reduce((a, b) => a + b, 0);
  await Promise.all(pids.map((pid) => waitIdle(pid)));
  log(`  ${server.name.padEnd(9)} ${result.rps.toFixed(1)} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms, peak RSS ${(rss / 2 ** 20).toFixed(0)} MB${result.failed ? `, ${result.failed} failed` : ''}`);
  return { result, rss, cpuUs };
}

async function main(): Promise<number> {
  const scale = scaleFromEnv(process.env.BENCH_SCALE);
  const seconds = positiveInt('BENCH_SECONDS', 10);
  const connections = positiveInt('BENCH_CONNECTIONS', 8);
  const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim()).filter(Boolean);

  const fx: Fixtures = await ensureFixtures(scale, log);
  const loadBefore = loadavg()[0]!;
  // The loop stands for a per-request renderer: no libvips operation cache carried between requests.
  sharp.cache(false);
  const selected = workloads(fx).filter((w) => !only?.length || only.includes(w.id));
  const measureColdStart = !only?.length || only.includes('cold-start');
  const measureSession = !only?.length || only.includes('session');
  if (selected.length === 0 && !measureColdStart && !measureSession) throw new Error(`BENCH_ONLY matched no workload`);

  // Served from its esbuild bundle with plain node, as deployed (no TypeScript loader in the process).
  const ourBundle = join(ROOT, 'dist/bench/our-server.mjs');
  await buildNodeBundle(join(ROOT, 'bench/our-server.ts'), ourBundle);
  const ceilingBundle = join(ROOT, 'dist/bench/ceiling.mjs');
  await buildNodeBundle(join(ROOT, 'bench/ceiling.ts'), ceilingBundle);
  const iipWanted = !['0', 'false', 'off', 'no'].includes(process.env.BENCH_IIPIMAGE ?? '');
  const iip = iipWanted && (await iipImageInstalled()) ? { processes: positiveInt('BENCH_IIPIMAGE_PROCESSES', cpus().length) } : undefined;
  const started = await Promise.allSettled([
    startChild('iiif-edge', [ourBundle, fx.dir], { cwd: ROOT }),
    startChild('reference', [join(ROOT, 'bench/reference/server.mjs'), fx.dir], { cwd: join(ROOT, 'bench/reference') }),
    startChild('ceiling', [ceilingBundle], { cwd: ROOT }),
    ...(iip
      ? [startIipImage('iipimage', fx.dir, { cacheMb: 0, processes: iip.processes }), startIipImage('iip+cache', fx.dir, { cacheMb: 10, processes: iip.processes })]
      : []),
  ]);
  const [ours, reference, ceiling, iipNone, iipCached] = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined));
  const everyone = [ours, reference, ceiling, iipNone, iipCached];
  if (!ours || !reference || !ceiling || (iip && (!iipNone || !iipCached))) {
    await Promise.all(everyone.map((c) => c?.stop()));
    throw started.flatMap((s) => (s.status === 'rejected' ? [s.reason] : []))[0];
  }
  log(`iiif-edge at ${ours.url} (pid ${ours.pid}), reference at ${reference.url} (pid ${reference.pid})${iipNone ? `, IIPImage at ${iipNone.url} and ${iipCached?.url}` : iipWanted ? ', IIPImage not installed' : ', IIPImage left out (BENCH_IIPIMAGE)'}`);

  const rows: Row[] = [];
  let session: SessionReport | undefined;
  try {
    for (const w of selected) {
      log(`\n${w.title}`);
      const row: Row = { workload: w, problems: [] };
      rows.push(row);
      // A workload with its own settings gets its own iiif-edge process, stopped after it.
      const server: Child = w.oursEnv ? await startChild('iiif-edge', [ourBundle, fx.dir], { cwd: ROOT, env: { ...process.env, ...w.oursEnv } }) : ours;
      try {
        const oursBroken = await verify(w, server);
        const refBroken = w.noReferenceServer ? undefined : await verify(w, reference);
        if (oursBroken) row.problems.push(`not measured: ${oursBroken}`);
        if (refBroken) row.problems.push(`not measured: ${refBroken}`);
        if (!oursBroken) {
          const m = await measure(w, server, connections, seconds);
          row.ours = m.result;
          row.oursRss = m.rss;
          if (m.cpuUs !== undefined) row.oursCpuUs = m.cpuUs;
        }
        if (w.ceiling && !oursBroken) {
          const sizes = await bodySizes(server.url, w.paths.map((p) => PREFIX + p));
          row.meanBytes = mean(sizes);
          const ceilingRun = await withCpu([ceiling.pid], connections, () => load({ base: ceiling.url, paths: [`/${row.meanBytes}`], connections, seconds }));
          row.ceiling = ceilingRun.result;
          if (ceilingRun.cpuUs !== undefined) row.ceilingCpuUs = ceilingRun.cpuUs;
          log(`  ceiling   ${row.ceiling.rps.toFixed(1)} req/s for ${row.meanBytes} B responses${ceilingRun.cpuUs === undefined ? '' : `, ${ceilingRun.cpuUs.toFixed(0)} µs of CPU per request (ours ${row.oursCpuUs?.toFixed(0) ?? '—'})`}`);
          // The same sizes as the workload's, in turn: throughput on loopback is not linear in size
          // (with autocannon it halves between 8 and 12 KB), so one mean can flatter or wrong a spread.
          row.ceilingSameSizes = await load({ base: ceiling.url, paths: sizes.map((n) => `/${n}`), connections, seconds });
          log(`  ceiling   ${row.ceilingSameSizes.rps.toFixed(1)} req/s for the workload's ${sizes.length} sampled sizes in turn`);
        }
        if (!refBroken && !w.noReferenceServer) {
          const m = await measure(w, reference, connections, seconds);
          row.reference = m.result;
          row.referenceRss = m.rss;
        }
        if (w.sharpJob) {
          row.loop = await loop(w.sharpJob, connections, seconds);
          log(`  sharp loop ${row.loop.rps.toFixed(1)} /s, p50 ${row.loop.p50.toFixed(1)} ms, p99 ${row.loop.p99.toFixed(1)} ms`);
        }
        if (w.iipImage && iipNone && iipCached) {
          const asked = { ...w, paths: w.paths.map(v2Size) };
          for (const [server, key] of [[iipNone, 'iipImage'], [iipCached, 'iipImageCached']] as const) {
            const broken = await verify(asked, server);
            if (broken) {
              // Not ours: reported, without failing the run.
              row.problems.push(`IIPImage not measured: ${broken}`);
              continue;
            }
            const m = await measure(asked, server, connections, seconds);
            row[key] = { ...m.result, rss: m.rss };
            if (m.result.failed) row.problems.push(`${server.name}: ${m.result.failed} of ${m.result.ok + m.result.failed} requests failed`);
          }
        }
        for (const [name, r] of [['iiif-edge', row.ours], ['reference', row.reference]] as const) {
          if (r?.failed) row.problems.push(`${name}: ${r.failed} of ${r.ok + r.failed} requests failed (non-2xx, errors or timeouts)`);
        }
      } finally {
        if (server !== ours) await server.stop();
      }
    }
    if (measureSession) session = await sessions(fx, ourBundle, ours.url, ceiling.url, connections, iip);
  } finally {
    await Promise.all(everyone.map((c) => c?.stop()));
  }
  // After the load runs, with the servers gone: each bundle in fresh processes, alternately.
  const cold = measureColdStart ? await coldStart(10) : undefined;
  if (cold) log(`\ncold start (median of ${cold.runs}): Node bundle ${cold.nodeMs.toFixed(0)} ms, Lambda bundle ${cold.lambdaMs.toFixed(0)} ms`);

  const cpu = cpus();
  const context: Context = {
    command: [
      ...['BENCH_SCALE', 'BENCH_SECONDS', 'BENCH_CONNECTIONS', 'BENCH_ONLY', 'REF_DIMENSIONS', 'BENCH_IIPIMAGE', 'BENCH_IIPIMAGE_PROCESSES']
        .filter((k) => process.env[k])
        .map((k) => `${k}=${process.env[k]}`),
      'npm run bench',
    ].join(' '),
    lines: [
      `${new Date().toISOString()}, iiif-edge ${gitDescription()}`,
      `${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, Node ${process.version}, ${process.platform}; 1-minute load average ${loadBefore.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after (noise from other processes)`,
      `iiif-edge: sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}); reference: iiif-processor 7.0.0, sharp ${String(reference.hello.sharp)} (libvips ${String(reference.hello.vips)}), dimensions ${process.env.REF_DIMENSIONS === 'stream' ? 'read from the file per request' : 'from object metadata (serverless-iiif with width/height/pages metadata)'}`,
      `autocannon, ${connections} connections, ${seconds} s per workload after a ${connections * 2}-request warm-up; load generator, both servers and the sharp loop share the same machine`,
      `fixtures (${scale}): ${fx.tiff.levels[0]!.width}×${fx.tiff.levels[0]!.height} JPEG-compressed 256² tiled pyramidal TIFF (${await fileMb(fx.tiff.path)}, ${fx.tiff.levels.length} levels), ${fx.jpeg.width}×${fx.jpeg.height} baseline JPEG (${await fileMb(fx.jpeg.path)}), ${fx.png.width}×${fx.png.height} PNG (${await fileMb(fx.png.path)}), ${fx.jp2.width}×${fx.jp2.height} lossy JP2 in ${fx.jp2.tile}² tiles (RPCL, a tile-part per resolution, TLM), ${fx.jp2.levels} levels (${await fileMb(fx.jp2.path)})`,
      'req/s counts 2xx responses only; the sharp loop is in-process from the local file, no HTTP, libvips operation cache off',
      iip
        ? `IIPImage: iipsrv ${packageVersion('iipimage-server')} (Debian), ${iip.processes} FastCGI processes behind lighttpd ${packageVersion('lighttpd')}, its default JPEG quality (75) for what it encodes, each process without cache or with its default 10 MB cache`
        : `IIPImage: not measured (${iipWanted ? 'not installed: `apt-get install iipimage-server lighttpd`' : 'BENCH_IIPIMAGE'})`,
    ],
    ...(cold ? { coldStart: cold } : {}),
    ...(session ? { session } : {}),
  };
  const markdown = render(rows, context);
  process.stdout.write(`\n${markdown}`);

  const complete = scale === 'full' && !only?.length;
  const out = process.env.BENCH_OUT || (complete ? join(ROOT, 'bench/results/latest.md') : join(tmpdir(), `iiif-edge-bench-${scale}.md`));
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, markdown);
  log(`\nwritten to ${out}`);
  return rows.some((r) => r.problems.some((p) => p.startsWith('not measured'))) ? 1 : 0;
}

/** Fresh processes of our server per session measure: one fresh session is one sample of a noisy machine. */
const SESSION_RUNS = 5;

/**
 * The captured viewer session on a fresh process of each server (its first session) and again on
 * the same process (warm), then on the Q75 4:2:0 pyramid (warm, ours) for the bytes it costs.
 * Ours runs on SESSION_RUNS fresh processes and reports the median of each; the reference, about
 * 100 times slower, on one; IIPImage, when installed, on SESSION_RUNS fresh servers without its
 * cache and as many with it.
 */
async function sessions(fx: Fixtures, ourBundle: string, oursUrl: string, ceilingUrl: string, connections: number, iip: { processes: number } | undefined): Promise<SessionReport> {
  const paths = (await sessionPaths(fx.tiff.name)).map((p) => PREFIX + p);
  const fromFresh = async (name: string, start: () => Promise<Child>, session = paths) => {
    const child = await start();
    try {
      const fresh = await replaySession(child.url, session, connections);
      const warm = await replaySession(child.url, session, connections);
      log(`  ${name.padEnd(9)} session fresh ${fresh.ms.toFixed(0)} ms, warm ${warm.ms.toFixed(0)} ms, ${(warm.bytes / 2 ** 20).toFixed(1)} MB`);
      return { fresh, warm };
    } finally {
      await child.stop();
    }
  };
  const twice = (name: string, args: string[], cwd: string) => fromFresh(name, () => startChild(name, args, { cwd }));
  const median = (results: SessionResult[]): SessionResult => [...results].sort((a, b) => a.ms - b.ms)[results.length >> 1] as SessionResult;
  log(`\nviewer session (${paths.length} requests, ${connections} at once)`);
  // The load generator's own first requests (its code compiling) must not count against a fresh
  // server: it first replays the session on the server already running.
  await replaySession(oursUrl, paths, connections);
  const runs: Array<{ fresh: SessionResult; warm: SessionResult }> = [];
  for (let i = 0; i < SESSION_RUNS; i++) runs.push(await twice('iiif-edge', [ourBundle, fx.dir], ROOT));
  // Failures of every run count, not only the median one's: a session that failed fast must not pass.
  const medians = (runs: Array<{ fresh: SessionResult; warm: SessionResult }>) => ({
    fresh: median(runs.map((r) => r.fresh)),
    warm: median(runs.map((r) => r.warm)),
    runs: runs.length,
    failed: runs.reduce((n, r) => n + r.fresh.failed + r.warm.failed, 0),
  });
  const ours = medians(runs);
  // What the client and loopback cost: the ceiling server answering the session's sizes in order.
  const floorPaths = ours.warm.sizes.map((n) => `/${n}`);
  const floors: SessionResult[] = [];
  for (let i = 0; i < SESSION_RUNS; i++) floors.push(await replaySession(ceilingUrl, floorPaths, connections));
  const floor = median(floors);
  log(`  floor     session ${floor.ms.toFixed(0)} ms (the ceiling server answering the same sizes)`);
  const reference = await twice('reference', [join(ROOT, 'bench/reference/server.mjs'), fx.dir], join(ROOT, 'bench/reference'));
  // Warm, as ours: its first replay fills the caches for that file.
  const q75Paths = (await sessionPaths(fx.tiffQ75.name)).map((p) => PREFIX + p);
  await replaySession(oursUrl, q75Paths, connections);
  const q75 = await replaySession(oursUrl, q75Paths, connections);
  if (!iip) return { requests: paths.length, ours, reference, q75, floor };
  const iipPaths = paths.map(v2Size);
  const iipRuns = async (name: string, cacheMb: number) => {
    const all: Array<{ fresh: SessionResult; warm: SessionResult }> = [];
    for (let i = 0; i < SESSION_RUNS; i++) all.push(await fromFresh(name, () => startIipImage(name, fx.dir, { cacheMb, processes: iip.processes }), iipPaths));
    return medians(all);
  };
  return { requests: paths.length, ours, reference, q75, floor, iipImage: await iipRuns('iipimage', 0), iipImageCached: await iipRuns('iip+cache', 10) };
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    log(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exit(1);
  },
);
