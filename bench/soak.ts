/**
 * `npm run soak`: the Node adapter in a child process on 127.0.0.1 with the bundled samples,
 * driven by autocannon with mixed viewer traffic (info.json, tiles at every scale factor,
 * thumbnails, ~8% bad URLs). Reports requests, status classes per kind of URL, and the
 * server's own RSS (from /proc) at start, peak and end. Exits 1 on any 5xx, any 4xx from a
 * good URL, or any socket error. SOAK_SECONDS (60) and SOAK_CONNECTIONS (100) tune it.
 */
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';

declare module 'autocannon' {
  interface Request {
    onResponse?: (status: number, body: string, context: Record<string, unknown>) => void;
  }
}

const SECONDS = Number(process.env.SOAK_SECONDS) || 60;
const CONNECTIONS = Number(process.env.SOAK_CONNECTIONS) || 100;
const REPO = new URL('../', import.meta.url).pathname;
const IDS = ['pyramid.tif', 'colour-grid.png', 'rings.jpg', 'collection%2Fviolet.webp'];
const BAD = [
  '/iiif/3/pyramid.tif/0,0,0,0/max/0/default.jpg',
  '/iiif/3/pyramid.tif/full/max/0/default.bmp',
  '/iiif/3/no-such-image.tif/info.json',
  '/iiif/2/rings.jpg/full/full/400/default.jpg',
  '/iiif/3/..%2F..%2Fetc%2Fpasswd/info.json',
  '/iiif/3/rings.jpg/full/^pct:100000/0/default.jpg',
];

type Kind = 'info' | 'tile' | 'thumb' | 'bad';

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024);
}

/** Every tile a viewer could ask for, from each image's info.json (3.0 implementation notes §3). */
async function tileUrls(base: string, id: string): Promise<string[]> {
  const info = (await (await fetch(`${base}/iiif/3/${id}/info.json`)).json()) as {
    width: number;
    height: number;
    tiles?: Array<{ width: number; height?: number; scaleFactors: number[] }>;
  };
  const urls: string[] = [];
  for (const t of info.tiles ?? []) {
    const th = t.height ?? t.width;
    for (const s of t.scaleFactors) {
      for (let y = 0; y < info.height; y += th * s) {
        for (let x = 0; x < info.width; x += t.width * s) {
          const w = Math.min(t.width * s, info.width - x);
          const h = Math.min(th * s, info.height - y);
          urls.push(`/iiif/3/${id}/${x},${y},${w},${h}/${Math.ceil(w / s)},/0/default.jpg`);
        }
      }
    }
  }
  return urls;
}

const child = spawn(process.execPath, ['--import', 'tsx', 'adapters/node/main.ts'], {
  cwd: REPO,
  env: { ...process.env, PORT: '0', HOST: '127.0.0.1' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
const line = await new Promise<string>((ok) => createInterface({ input: child.stdout! }).once('line', ok));
const base = /listening on (http:\/\/\S+)/.exec(line)?.[1] ?? '';
const pid = child.pid ?? 0;

const pools: Record<Kind, string[]> = {
  info: IDS.map((id) => `/iiif/3/${id}/info.json`),
  tile: (await Promise.all(IDS.map((id) => tileUrls(base, id)))).flat(),
  thumb: IDS.flatMap((id) => [`/iiif/3/${id}/full/!200,200/0/default.jpg`, `/iiif/2/${id}/full/150,/0/default.jpg`]),
  bad: BAD,
};
const WEIGHTS: Array<[Kind, number]> = [['info', 0.12], ['tile', 0.65], ['thumb', 0.15], ['bad', 0.08]];
const pick = (): Kind => {
  let r = Math.random();
  for (const [kind, weight] of WEIGHTS) if ((r -= weight) < 0) return kind;
  return 'tile';
};
const counts: Record<Kind, Record<string, number>> = { info: {}, tile: {}, thumb: {}, bad: {} };

const startRss = await rssMiB(pid);
let peakRss = startRss;
const sampler = setInterval(() => void rssMiB(pid).then((mib) => (peakRss = Math.max(peakRss, mib)), () => undefined), 500);
console.log(`soak: ${base}, ${CONNECTIONS} connections for ${SECONDS} s, ${pools.tile.length} distinct tiles; server RSS ${startRss} MiB`);

const result = await autocannon({
  url: base,
  connections: CONNECTIONS,
  duration: SECONDS,
  timeout: 30,
  requests: [
    {
      setupRequest: (request, context) => {
        const kind = pick();
        const pool = pools[kind];
        context.kind = kind;
        return { ...request, method: 'GET', path: pool[Math.floor(Math.random() * pool.length)] ?? '/health' };
      },
      onResponse: (status, _body, context) => {
        const bucket = counts[context.kind as Kind];
        const key = `${Math.floor(status / 100)}xx`;
        bucket[key] = (bucket[key] ?? 0) + 1;
      },
    },
  ],
});
clearInterval(sampler);
const endRss = await rssMiB(pid);
child.kill('SIGTERM');
const exitCode = await exited;

const fivexx = Object.values(counts).reduce((n, c) => n + (c['5xx'] ?? 0), 0);
const goodFourxx = (['info', 'tile', 'thumb'] as const).reduce((n, k) => n + (counts[k]['4xx'] ?? 0), 0);
console.log(`requests: ${result.requests.total} (${Math.round(result.requests.average)}/s), latency p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms`);
console.log('status classes by kind of URL:', JSON.stringify(counts));
console.log(`errors: ${result.errors}, timeouts: ${result.timeouts}, 5xx: ${fivexx}, 4xx from good URLs: ${goodFourxx}`);
console.log(`server RSS: start ${startRss} MiB, peak ${peakRss} MiB, end ${endRss} MiB; exit code after SIGTERM ${exitCode}`);
const failed = fivexx > 0 || goodFourxx > 0 || result.errors > 0 || result.timeouts > 0 || exitCode !== 0;
process.exit(failed ? 1 : 0);
