/**
 * Latency of the Worker in workerd against the Node adapter (not a test):
 * `npx tsx test/helpers/workerd-bench.ts [requests]`. Sequential requests over
 * loopback HTTP; prints the median and 90th percentile in milliseconds.
 */
import { makeFixtures } from '../fixtures/images.ts';
import { startRenderOrigin } from './workerd-origin.ts';
import { startWorker } from './workerd.ts';

const N = Number(process.argv[2] ?? 200);

async function timeAll(base: string, paths: string[]): Promise<string> {
  const ms: number[] = [];
  for (const path of paths) {
    const started = performance.now();
    const res = await fetch(`${base}${path}`);
    await res.arrayBuffer();
    ms.push(performance.now() - started);
    if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
  }
  ms.sort((a, b) => a - b);
  const at = (q: number) => (ms[Math.min(ms.length - 1, Math.floor(q * ms.length))] ?? 0).toFixed(2);
  return `median ${at(0.5)} ms, p90 ${at(0.9)} ms`;
}

const fixtures = await makeFixtures();
const origin = await startRenderOrigin(fixtures);
const worker = await startWorker({ IIIF_PUBLIC_BASE_URL: 'https://iiif.example.org', IIIF_RENDER_ORIGIN: origin.direct }, fixtures);
const repeat = (path: string) => Array.from({ length: N }, () => path);
const distinct = (id: string) => Array.from({ length: N }, (_, i) => `/iiif/3/${id}/full/${100 + i},/0/default.jpg`);

try {
  const rows: [string, string[]][] = [
    ['info.json', repeat('/iiif/3/grid.png/info.json')],
    ['image, same URL (Worker: cache hits)', repeat('/iiif/3/pyramid.tif/full/1000,/0/default.jpg')],
    ['image, distinct URLs (Worker: forwarded misses)', distinct('grid.jpg')],
    ['aligned TIFF tile (both: pass-through)', repeat('/iiif/3/pyramid.tif/256,256,256,256/256,/0/default.jpg')],
  ];
  for (const [name, paths] of rows) {
    // One warm-up request each: geometry probe, isolate start, and the first forward.
    await fetch(`${worker.url}${paths[0]}`).then((r) => r.arrayBuffer());
    await fetch(`${origin.direct}${paths[0]}`).then((r) => r.arrayBuffer());
    console.log(`${name} x${N}\n  workerd: ${await timeAll(worker.url, paths.slice(1).concat(paths[0] ?? ''))}`);
    console.log(`  node:    ${await timeAll(origin.direct, paths)}`);
  }
} finally {
  await worker.close();
  await origin.close();
}
