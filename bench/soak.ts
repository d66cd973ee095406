/**
 * `npm run soak`: the Node adapter in a child process on 127.0.0.1, serving the bundled samples
 * plus a hostile fixture, driven for SOAK_SECONDS (60) by SOAK_CONNECTIONS (100) autocannon
 * connections with viewer traffic (info.json, tiles at every scale factor, thumbnails, bad URLs)
 * mixed with decode bombs and a crawl over 30,000 distinct identifiers, while side clients
 * cancel renders mid-way and read large answers slowly. Reports status classes per kind of
 * URL and the server's RSS and open descriptors (from /proc) at start, peak and end. Exits 1 on
 * any 5xx other than 503 with Retry-After, any 4xx from a good URL, any socket error, an
 * incomplete slow read, descriptors that do not come back down, or a non-zero exit after SIGTERM.
 */
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { cp, link, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { interlacedPngBomb, progressiveJpegBomb, webpBomb } from '../test/helpers/bombs.ts';

declare module 'autocannon' {
  interface Request {
    onResponse?: (status: number, body: string, context: Record<string, unknown>, headers: Record<string, string>) => void;
  }
}

const SECONDS = Number(process.env.SOAK_SECONDS) || 60;
const CONNECTIONS = Number(process.env.SOAK_CONNECTIONS) || 100;
const CRAWL_IDS = 30_000;
/** The server's IIIF_FS_MAX_OPEN_FILES default: cached file handles may stay open at the end. */
const FS_MAX_OPEN = 128;
const CANCELLERS = 8;
const SLOW_READERS = 4;
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
/** Renders of decode bombs: each must be refused (4xx) before it costs memory or a minute of CPU. */
const BOMBS = ['bomb.webp', 'bomb.png', 'bomb.jpg'].flatMap((id) => [
  `/iiif/3/${id}/0,0,64,64/64,/0/default.jpg`,
  `/iiif/3/${id}/full/!256,256/0/default.jpg`,
]);
const SLOW_URL = '/iiif/3/pyramid.tif/full/max/0/default.png';

type Kind = 'info' | 'tile' | 'thumb' | 'bad' | 'bomb' | 'crawl';

async function hostileRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'iiif-edge-soak-'));
  await cp(join(REPO, 'adapters/node/samples'), root, { recursive: true });
  await writeFile(join(root, 'bomb.webp'), webpBomb());
  await writeFile(join(root, 'bomb.png'), await interlacedPngBomb());
  await writeFile(join(root, 'bomb.jpg'), progressiveJpegBomb());
  await mkdir(join(root, 'crawl'));
  for (let i = 0; i < CRAWL_IDS; i += 500) {
    const batch = Array.from({ length: Math.min(500, CRAWL_IDS - i) }, (_, k) => i + k);
    await Promise.all(batch.map((n) => link(join(root, 'rings.jpg'), join(root, 'crawl', `${n}.jpg`))));
  }
  return root;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  await new Promise((ok) => server.close(ok));
  return port;
}

async function procStats(pid: number): Promise<{ rss: number; fds: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const rss = Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024);
  return { rss, fds: (await readdir(`/proc/${pid}/fd`)).length };
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

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));
const any = <T>(list: T[]): T => list[Math.floor(Math.random() * list.length)] as T;

/** A client that hangs up 0–100 ms into a render, as viewers do with tiles scrolled away. */
async function canceller(base: string, urls: string[], until: number, stats: { cancelled: number }): Promise<void> {
  while (performance.now() < until) {
    await new Promise<void>((ok) => {
      const req = get(`${base}${any(urls)}`, (res) => res.resume());
      req.on('error', () => ok());
      req.on('close', () => ok());
      setTimeout(() => req.destroy(), Math.random() * 100);
    });
    stats.cancelled++;
  }
}

/** A client that reads a large answer at about 1 MB/s; it must arrive whole. */
async function slowReader(base: string, until: number, stats: { complete: number; cut: number; busy: number }): Promise<void> {
  while (performance.now() < until) {
    await new Promise<void>((ok) => {
      get(`${base}${SLOW_URL}`, (res) => {
        const expected = Number(res.headers['content-length']);
        let received = 0;
        res.on('data', (chunk: Buffer) => {
          received += chunk.length;
          res.pause();
          setTimeout(() => res.resume(), 50);
        });
        res.on('end', () => {
          if (res.statusCode === 503 && res.headers['retry-after']) stats.busy++;
          else if (res.statusCode === 200 && received === expected) stats.complete++;
          else stats.cut++;
          ok();
        });
        res.on('error', () => (stats.cut++, ok()));
      }).on('error', () => (stats.cut++, ok()));
    });
  }
}

const root = await hostileRoot();
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const child = spawn(process.execPath, ['--import', 'tsx', 'adapters/node/main.ts'], {
  cwd: REPO,
  env: { ...process.env, IIIF_ROOT: root, PORT: String(port), HOST: '127.0.0.1', IIIF_LOG_LEVEL: 'warn' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
child.stdout?.resume();
const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
for (let tries = 0; ; tries++) {
  const up = await fetch(`${base}/health`).then((r) => r.ok, () => false);
  if (up) break;
  if (tries > 300) throw new Error('soak: the server did not start');
  await sleep(100);
}
const pid = child.pid ?? 0;

const tiles = (await Promise.all(IDS.map((id) => tileUrls(base, id)))).flat();
const thumbs = IDS.flatMap((id) => [`/iiif/3/${id}/full/!200,200/0/default.jpg`, `/iiif/2/${id}/full/150,/0/default.jpg`]);
let crawled = 0;
const pools: Record<Exclude<Kind, 'crawl'>, string[]> = {
  info: [...IDS, 'bomb.webp', 'bomb.png', 'bomb.jpg'].map((id) => `/iiif/3/${id}/info.json`),
  tile: tiles,
  thumb: thumbs,
  bad: BAD,
  bomb: BOMBS,
};
const WEIGHTS: Array<[Kind, number]> = [['info', 0.1], ['tile', 0.5], ['thumb', 0.12], ['bad', 0.06], ['bomb', 0.04], ['crawl', 0.18]];
const pick = (): Kind => {
  let r = Math.random();
  for (const [kind, weight] of WEIGHTS) if ((r -= weight) < 0) return kind;
  return 'tile';
};
const counts: Record<Kind, Record<string, number>> = { info: {}, tile: {}, thumb: {}, bad: {}, bomb: {}, crawl: {} };

const start = await procStats(pid);
const peak = { ...start };
const sampler = setInterval(
  () =>
    void procStats(pid).then(
      (s) => ((peak.rss = Math.max(peak.rss, s.rss)), (peak.fds = Math.max(peak.fds, s.fds))),
      () => undefined,
    ),
  500,
);
console.log(
  `soak: ${base}, ${CONNECTIONS} connections + ${CANCELLERS} cancelling + ${SLOW_READERS} slow readers for ${SECONDS} s, ` +
    `${tiles.length} distinct tiles, ${CRAWL_IDS} crawl identifiers, ${BOMBS.length} bomb URLs; server RSS ${start.rss} MiB, ${start.fds} fds`,
);

const until = performance.now() + SECONDS * 1000;
const side = { cancelled: 0, complete: 0, cut: 0, busy: 0 };
const sideClients = [
  ...Array.from({ length: CANCELLERS }, () => canceller(base, [...tiles, ...thumbs, ...BOMBS], until, side)),
  ...Array.from({ length: SLOW_READERS }, () => slowReader(base, until, side)),
];
const result = await autocannon({
  url: base,
  connections: CONNECTIONS,
  duration: SECONDS,
  timeout: 30,
  requests: [
    {
      setupRequest: (request, context) => {
        const kind = pick();
        context.kind = kind;
        const path = kind === 'crawl' ? `/iiif/3/crawl%2F${crawled++ % CRAWL_IDS}.jpg/info.json` : any(pools[kind]);
        return { ...request, method: 'GET', path };
      },
      onResponse: (status, _body, context, headers) => {
        const bucket = counts[context.kind as Kind];
        const key = status === 503 && headers['retry-after'] ? '503-retry' : `${Math.floor(status / 100)}xx`;
        bucket[key] = (bucket[key] ?? 0) + 1;
      },
    },
  ],
});
await Promise.all(sideClients);
await sleep(1000);
clearInterval(sampler);
const end = await procStats(pid);
child.kill('SIGTERM');
const exitCode = await exited;
await rm(root, { recursive: true, force: true });

const fivexx = Object.values(counts).reduce((n, c) => n + (c['5xx'] ?? 0), 0);
const retry = Object.values(counts).reduce((n, c) => n + (c['503-retry'] ?? 0), 0);
const goodFourxx = (['info', 'tile', 'thumb', 'crawl'] as const).reduce((n, k) => n + (counts[k]['4xx'] ?? 0), 0);
const bombsServed = counts.bomb['2xx'] ?? 0;
// Idle file handles may stay cached (up to the bound); anything beyond that would be a leak.
const fdsFlat = end.fds <= start.fds + FS_MAX_OPEN + 16;
console.log(`requests: ${result.requests.total} (${Math.round(result.requests.average)}/s), latency p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms`);
console.log('status classes by kind of URL:', JSON.stringify(counts));
console.log(`side clients: ${side.cancelled} cancelled renders, slow reads ${side.complete} complete, ${side.cut} cut, ${side.busy} 503 with Retry-After`);
console.log(`errors: ${result.errors}, timeouts: ${result.timeouts}, 5xx (not 503+Retry-After): ${fivexx}, 503+Retry-After: ${retry}, 4xx from good URLs: ${goodFourxx}, bombs rendered: ${bombsServed}`);
console.log(`server RSS: start ${start.rss} MiB, peak ${peak.rss} MiB, end ${end.rss} MiB`);
console.log(`server open descriptors: start ${start.fds}, peak ${peak.fds}, end ${end.fds} (${fdsFlat ? 'flat' : 'NOT flat'}); exit code after SIGTERM ${exitCode}`);
const failed =
  fivexx > 0 || goodFourxx > 0 || bombsServed > 0 || result.errors > 0 || result.timeouts > 0 || side.cut > 0 || !fdsFlat || exitCode !== 0;
process.exit(failed ? 1 : 0);
