import { cpus } from 'node:os';
import sharp from 'sharp';
import { ensureFixtures, scaleFromEnv } from './fixtures.ts';
import { iipImageInstalled, startIipImage } from './iipimage.ts';
import { load } from './load.ts';
import { cpuMs } from './processes.ts';
import { pageFor, workloads } from './workloads.ts';

/**
 * `npx tsx bench/render-floor.ts`: how close any path through sharp can come to issue 15's
 * thumbnail and region targets. It times sharp doing only parts of each request (one call at a
 * time, in this process, CPU from process.cpuUsage) beside the whole job of `npm run bench`'s
 * sharp loop, and, when IIPImage is installed, the CPU its processes spend per request under the
 * bench's load. A part that alone costs more than the whole target allows bounds every path that
 * has to do it. BENCH_SCALE=small for the small fixtures.
 */

const QUALITY = 85;
const CALLS = Number(process.env.FLOOR_CALLS) || 200;
/** A region call takes about ten times as long as a thumbnail part. */
const REGION_CALLS = Math.max(1, Math.round(CALLS / 5));

async function cpuPerCall(job: (i: number) => Promise<unknown>, calls: number): Promise<number> {
  for (let i = 0; i < Math.min(20, calls); i++) await job(i);
  const before = process.cpuUsage();
  for (let i = 0; i < calls; i++) await job(i);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000 / calls;
}

sharp.cache(false);
const fx = await ensureFixtures(scaleFromEnv(process.env.BENCH_SCALE), (line) => console.error(line));
const all = workloads(fx);
const find = (id: string) => {
  const w = all.find((x) => x.id === id);
  if (!w?.sharpJob) throw new Error(`no workload ${id} with a sharp job`);
  return { ...w, sharpJob: w.sharpJob };
};
const thumb = find('thumb-tiff');
const region = find('region');
const { width: tw, height: th } = thumb.expect;
const [rw, rh] = [region.expect.width, region.expect.height];

// The thumbnail's level as sharp decodes it, and its pixels; the region's pixels, and the same as a JPEG.
const level = pageFor(fx.tiff.levels, tw, th);
const levelRaw = await sharp(fx.tiff.path, { page: level.page }).raw().toBuffer({ resolveWithObject: true });
const thumbRaw = await sharp(levelRaw.data, { raw: levelRaw.info }).resize(tw, th).raw().toBuffer({ resolveWithObject: true });
const levelJpeg = await sharp(levelRaw.data, { raw: levelRaw.info }).jpeg({ quality: 90, chromaSubsampling: '4:4:4' }).toBuffer();
const regionRaw = await sharp(fx.tiff.path).extract({ left: 0, top: 0, width: rw, height: rh }).raw().toBuffer({ resolveWithObject: true });
const regionJpeg = await sharp(regionRaw.data, { raw: regionRaw.info }).jpeg({ quality: 90, chromaSubsampling: '4:4:4' }).toBuffer();

const rows: Array<[string, number]> = [];
const time = async (what: string, job: (i: number) => Promise<unknown>, calls = CALLS) => {
  rows.push([what, await cpuPerCall(job, calls)]);
};
const ms = (what: string) => rows.find(([w]) => w === what)?.[1] ?? NaN;

const T_NOOP = 'an empty pipeline (1×1 raw to raw)';
const T_WHOLE = `thumbnail, the sharp loop's whole job (TIFF level ${level.width}×${level.height}, resized to ${tw}×${th}, JPEG Q${QUALITY})`;
const T_DECODE = `thumbnail: decode the level alone (TIFF page to raw)`;
const T_DECODE_JPEG = `thumbnail: decode the level's pixels from one JPEG of them (Q90 4:4:4, to raw)`;
const T_RESIZE = `thumbnail: resize the decoded level to ${tw}×${th} (raw to raw)`;
const T_ENCODE = `thumbnail: encode ${tw}×${th} pixels alone (raw to JPEG Q${QUALITY})`;
const T_AFTER = `thumbnail: resize and encode, nearest neighbour (raw level to JPEG Q${QUALITY})`;
const R_WHOLE = `region, the sharp loop's whole job (TIFF, a non-aligned ${rw}×${rh}, JPEG Q${QUALITY})`;
const R_DECODE = `region: decode exactly its ${rw}×${rh} pixels (a JPEG of them, Q90 4:4:4, to raw)`;
const R_ENCODE = `region: encode its ${rw}×${rh} pixels alone (raw to JPEG Q${QUALITY})`;

await time(T_NOOP, () => sharp(Buffer.alloc(3), { raw: { width: 1, height: 1, channels: 3 } }).raw().toBuffer());
await time(T_WHOLE, thumb.sharpJob);
await time(T_DECODE, () => sharp(fx.tiff.path, { page: level.page }).raw().toBuffer());
await time(T_DECODE_JPEG, () => sharp(levelJpeg).raw().toBuffer());
await time(T_RESIZE, () => sharp(levelRaw.data, { raw: levelRaw.info }).resize(tw, th).raw().toBuffer());
await time(T_ENCODE, () => sharp(thumbRaw.data, { raw: thumbRaw.info }).jpeg({ quality: QUALITY }).toBuffer());
await time(T_AFTER, () => sharp(levelRaw.data, { raw: levelRaw.info }).resize(tw, th, { kernel: 'nearest' }).jpeg({ quality: QUALITY }).toBuffer());
await time(R_WHOLE, region.sharpJob, REGION_CALLS);
await time(R_DECODE, () => sharp(regionJpeg).raw().toBuffer(), REGION_CALLS);
await time(R_ENCODE, () => sharp(regionRaw.data, { raw: regionRaw.info }).jpeg({ quality: QUALITY }).toBuffer(), REGION_CALLS);

// IIPImage without its cache, as `npm run bench` runs it: CPU of all its processes over a loaded run.
const iip: Array<[string, number, number]> = [];
if (process.env.BENCH_IIPIMAGE !== '0' && (await iipImageInstalled())) {
  const server = await startIipImage('iipimage', fx.dir, { cacheMb: 0, processes: cpus().length });
  try {
    for (const w of [thumb, region]) {
      const paths = w.paths.map((p) => `/iiif/3/${p}`);
      await load({ base: server.url, paths, connections: 8, seconds: 2 });
      const before = await cpuMs(server.pids ?? [server.pid]);
      const run = await load({ base: server.url, paths, connections: 8, seconds: 10 });
      const after = await cpuMs(server.pids ?? [server.pid]);
      if (run.failed > 0) throw new Error(`IIPImage failed ${run.failed} ${w.id} requests`);
      // autocannon's 16 warm-up requests are served inside the measured span too.
      if (before !== undefined && after !== undefined) iip.push([w.title, (after - before) / (run.ok + 16), run.rps]);
    }
  } finally {
    await server.stop();
  }
}

console.log(`sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}), concurrency ${sharp.concurrency()}, Node ${process.version}; CPU per call, one call at a time (${CALLS} thumbnail and ${REGION_CALLS} region calls each)\n`);
console.log('| sharp doing | ms of CPU per call |\n|---|--:|');
for (const [what, value] of rows) console.log(`| ${what} | ${value.toFixed(2)} |`);
if (iip.length > 0) {
  console.log('\n| IIPImage, no cache, 8 connections for 10 s | ms of CPU per request, all its processes | req/s |\n|---|--:|--:|');
  for (const [what, value, rps] of iip) console.log(`| ${what} | ${value.toFixed(2)} | ${rps.toFixed(0)} |`);
  const [thumbIip, regionIip] = [iip[0]?.[1] ?? NaN, iip[1]?.[1] ?? NaN];
  const cheapest = Math.min(ms(T_DECODE), ms(T_DECODE_JPEG)) + ms(T_AFTER);
  console.log(`\nThumbnail: resizing and encoding already decoded pixels costs sharp ${(ms(T_AFTER) / thumbIip).toFixed(2)}× IIPImage's whole request; with the cheaper of the two decodes, ${(cheapest / thumbIip).toFixed(2)}×.`);
  console.log(`Region: IIPImage spends ${regionIip.toFixed(1)} ms a request.`);
}
console.log(`Region: decoding only its pixels and encoding them costs sharp ${((ms(R_DECODE) + ms(R_ENCODE)) / ms(R_WHOLE)).toFixed(2)}× the sharp loop's whole job; issue 15 asks for 2× the loop's rate, which needs at most 0.5×.`);
