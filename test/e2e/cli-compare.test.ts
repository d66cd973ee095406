import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../adapters/node/server.ts';
import { runCli, runCliClosedStdout } from '../helpers/cli.ts';

interface Report {
  urls: number;
  differ: number;
  ignoredLines: number;
  notes: string[];
  results: Array<{
    path: string;
    old: { status: number; width?: number; height?: number; error?: string };
    new: { status: number };
    meanAbsDiff?: number;
    infoDiffs?: string[];
    ignored?: string[];
    skipped?: string;
    differences: string[];
  }>;
}

const PUBLIC = 'https://images.example.org';
let work: string;
let oldServer: RunningServer;
let newServer: RunningServer;
let twinServer: RunningServer;
let tile512Server: RunningServer;
let oldBase: string;
let newBase: string;

/** A noisy photo-like image, so that JPEG quality changes the decoded pixels. */
async function photo(width: number, height: number): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7919 + ((i / 3) | 0) % width) % 251;
  return sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'iiif-edge-compare-'));
  const oldRoot = join(work, 'old');
  const newRoot = join(work, 'new');
  await cp(await writeFixtures(oldRoot), newRoot, { recursive: true });
  // The deliberately broken identifier: same name, bytes no decoder reads.
  await writeFile(join(newRoot, 'broken.png'), Buffer.from('this is not an image'));
  // The same photo with an 80×80 black patch: 0.85% of the image, under the mean threshold.
  const patch = await sharp({ create: { width: 80, height: 80, channels: 3, background: { r: 0, g: 0, b: 0 } } }).png().toBuffer();
  await writeFile(join(newRoot, 'marked.png'), await sharp(await photo(1000, 750)).composite([{ input: patch, left: 400, top: 300 }]).png().toBuffer());
  const common = { PORT: '0', HOST: '127.0.0.1', IIIF_TILE_SIZE: '256' };
  oldServer = await startServer({ ...common, IIIF_ROOT: oldRoot, IIIF_JPEG_QUALITY: '95', IIIF_PUBLIC_BASE_URL: PUBLIC });
  newServer = await startServer({ ...common, IIIF_ROOT: newRoot, IIIF_JPEG_QUALITY: '30', IIIF_PUBLIC_BASE_URL: PUBLIC });
  // Same pixels as the old server, but ids carry its own host.
  twinServer = await startServer({ ...common, IIIF_ROOT: oldRoot, IIIF_JPEG_QUALITY: '95' });
  // The same images in another tile size: info.json lists other tiles and sizes.
  tile512Server = await startServer({ ...common, IIIF_TILE_SIZE: '512', IIIF_ROOT: oldRoot, IIIF_JPEG_QUALITY: '95', IIIF_PUBLIC_BASE_URL: PUBLIC });
  oldBase = `${oldServer.url}/iiif/3`;
  newBase = `${newServer.url}/iiif/3`;
});

async function writeFixtures(root: string): Promise<string> {
  await mkdir(root, { recursive: true });
  await writeFile(join(root, 'photo.png'), await photo(1000, 750));
  await writeFile(join(root, 'broken.png'), await photo(300, 200));
  await writeFile(join(root, 'marked.png'), await photo(1000, 750));
  return root;
}

afterAll(async () => {
  await Promise.all([oldServer?.close(), newServer?.close(), twinServer?.close(), tile512Server?.close()]);
  await rm(work, { recursive: true, force: true });
});

async function compare(args: string[]): Promise<{ code: number; stdout: string; stderr: string; report: Report }> {
  const reportFile = join(work, `report-${Math.random().toString(36).slice(2)}.json`);
  const run = await runCli(['compare', ...args, '--report', reportFile]);
  const report = JSON.parse(await readFile(reportFile, 'utf8').catch(() => '{}')) as Report;
  return { ...run, report };
}

interface Fake {
  base: string;
  close(): Promise<void>;
}

/** A scripted HTTP server on a free port of 127.0.0.1, for answers no real server gives. */
async function fakeServer(handle: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>): Promise<Fake> {
  const server = createServer((req, res) => void Promise.resolve(handle(req, res)).catch(() => res.destroy()));
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}

/** Proxies a request to a real server, for fakes that change only some answers. */
async function proxy(res: ServerResponse, url: string): Promise<void> {
  const answer = await fetch(url);
  res.writeHead(answer.status, { 'Content-Type': answer.headers.get('content-type') ?? 'application/octet-stream' });
  res.end(Buffer.from(await answer.arrayBuffer()));
}

/** Until the response takes more, or its connection is gone. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((ok) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      ok();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

const BIN = fileURLToPath(new URL('../../adapters/cli/bin.mjs', import.meta.url));

/** Mean absolute difference of two decoded JPEGs, computed here without the tool. */
async function independentDiff(path: string): Promise<number> {
  const decode = async (base: string) =>
    sharp(Buffer.from(await (await fetch(`${base}/${path}`)).arrayBuffer())).raw().toBuffer();
  const [a, b] = await Promise.all([decode(oldBase), decode(newBase)]);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs((a[i] ?? 0) - (b[i] ?? 0));
  return sum / a.length;
}

/** Each test spawns the CLI several times; on a busy machine one run can take 10 s. */
const CLI_TIMEOUT_MS = 180_000;

describe('iiif-edge compare', { timeout: CLI_TIMEOUT_MS }, () => {
  it('expands ids into a viewer set and reports the broken identifier and the quality change', async () => {
    const ids = join(work, 'ids.txt');
    await writeFile(ids, '# ids\nphoto.png\nbroken.png\n');
    const { code, stdout, report } = await compare(['--old', oldBase, '--new', newBase, '--ids', ids, '--threshold', '255']);
    expect(code).toBe(1);
    const paths = report.results.map((r) => r.path);
    // 1000×750 in 256-px tiles: scale factors 1, 2, 4; each level's first tile and its last (edge) tile.
    expect(paths).toContain('photo.png/info.json');
    expect(paths).toContain('photo.png/full/!200,200/0/default.jpg');
    expect(paths).toContain('photo.png/0,0,256,256/256,256/0/default.jpg');
    expect(paths).toContain('photo.png/768,512,232,238/232,238/0/default.jpg');
    expect(paths).toContain('photo.png/0,0,512,512/256,256/0/default.jpg');
    expect(paths).toContain('photo.png/512,512,488,238/244,119/0/default.jpg');
    expect(paths).toContain('photo.png/full/250,188/0/default.jpg');
    for (const r of report.results.filter((r) => r.path.startsWith('photo.png/'))) {
      expect(r.old.status, r.path).toBe(200);
      expect(r.differences, r.path).toEqual([]);
    }
    // The quality change is measured, and matches a decode done here.
    const edge = report.results.find((r) => r.path === 'photo.png/768,512,232,238/232,238/0/default.jpg');
    expect(edge?.old).toMatchObject({ width: 232, height: 238 });
    expect(edge?.meanAbsDiff).toBeGreaterThan(1);
    expect(edge?.meanAbsDiff).toBeCloseTo(await independentDiff('photo.png/768,512,232,238/232,238/0/default.jpg'), 2);
    // The broken image: info.json answers 200 on the old server and an error on the new one.
    const broken = report.results.find((r) => r.path === 'broken.png/info.json');
    expect(broken?.old.status).toBe(200);
    expect(broken?.new.status).toBeGreaterThanOrEqual(400);
    expect(broken?.differences).toEqual([`status 200 → ${broken?.new.status}`]);
    expect(report.results.filter((r) => r.differences.length > 0).every((r) => r.path.startsWith('broken.png/'))).toBe(true);
    expect(stdout).toMatch(/^status\s+\d+$/m);
    expect(stdout).toContain(`broken.png/info.json: status 200 → ${broken?.new.status}`);
  });

  it('fails the gate on pixel differences beyond the threshold', async () => {
    const urls = join(work, 'urls.txt');
    await writeFile(urls, 'photo.png/0,0,256,256/256,256/0/default.jpg\n');
    const strict = await compare(['--old', oldBase, '--new', newBase, '--urls', urls, '--threshold', '0.5']);
    expect(strict.code).toBe(1);
    expect(strict.report.results[0]?.differences[0]).toMatch(/^pixels differ by [\d.]+ \(threshold 0\.5\)$/);
    const loose = await compare(['--old', oldBase, '--new', newBase, '--urls', urls, '--threshold', '255']);
    expect(loose.code).toBe(0);
  });

  it('catches a small area gone wrong that the mean over the whole image hides', async () => {
    const urls = join(work, 'marked.txt');
    await writeFile(urls, 'marked.png/full/max/0/default.png\nphoto.png/full/max/0/default.png\n');
    const run = await compare(['--old', oldBase, '--new', newBase, '--urls', urls]);
    expect(run.code).toBe(1);
    const [marked, same] = run.report.results;
    expect(marked?.meanAbsDiff).toBeLessThan(3);
    expect(marked?.differences).toEqual([expect.stringMatching(/^a 16×16 area differs by [\d.]+ \(local threshold 48\)$/)]);
    // Lossless and identical: nothing differs anywhere.
    expect(same?.differences).toEqual([]);
    expect(run.stdout).toMatch(/16² area \(>48\)\s+1/);
  });

  it('decodes jp2 and pdf answers too (sharp reads neither): the same server is the same, the quality change is seen', async () => {
    const urls = join(work, 'formats.txt');
    // A bitonal pdf holds a two-colour image, Flate-compressed, not a JPEG.
    await writeFile(urls, 'photo.png/0,0,256,256/256,/0/default.jp2\nphoto.png/0,0,256,256/256,/0/default.pdf\nphoto.png/0,0,256,256/256,/0/bitonal.pdf\n');
    const same = await compare(['--old', oldBase, '--new', oldBase, '--urls', urls]);
    expect(same.report.results.map((r) => r.differences)).toEqual([[], [], []]);
    expect(same.report.results.map((r) => [r.old.width, r.old.height, r.meanAbsDiff])).toEqual([[256, 256, 0], [256, 256, 0], [256, 256, 0]]);
    expect(same.code).toBe(0);
    // pdf holds a JPEG at the server's quality (95 against 30): its pixels differ; jp2 is encoded at one rate.
    const changed = await compare(['--old', oldBase, '--new', newBase, '--urls', urls, '--threshold', '0.5']);
    const differences = (end: string) => changed.report.results.find((r) => r.path.endsWith(end))?.differences;
    expect(differences('default.pdf')?.[0]).toMatch(/^pixels differ by/);
    // Two colours either way: the JPEG quality does not reach a bitonal pdf.
    expect(differences('bitonal.pdf')).toEqual([]);
  });

  it('reads IIIF paths from common, combined and CloudFront logs and skips the rest', async () => {
    const log = join(work, 'access.log');
    await writeFile(
      log,
      [
        '10.0.0.1 - - [04/Dec/2026:10:00:00 +0000] "GET /iiif/3/photo.png/info.json HTTP/1.1" 200 812',
        '10.0.0.2 - - [04/Dec/2026:10:00:01 +0000] "GET /iiif/3/photo.png/full/!200,200/0/default.jpg?x=1 HTTP/1.1" 200 9000 "https://viewer.example.org/" "Mozilla/5.0"',
        '10.0.0.3 - - [04/Dec/2026:10:00:02 +0000] "GET /favicon.ico HTTP/1.1" 404 0',
        '10.0.0.4 - - [04/Dec/2026:10:00:03 +0000] "GET /iiif/3/photo.png/info.json HTTP/1.1" 200 812',
        '#Version: 1.0',
        '#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer)',
        '2026-12-04\t10:00:04\tIAD89-C3\t4000\t10.0.0.5\tGET\td1.cloudfront.net\t/iiif/3/photo.png/0,0,256,256/256,256/0/default.jpg\t200\t-',
        '2026-12-04\t10:00:05\tIAD89-C3\t4000\t10.0.0.5\tGET\td1.cloudfront.net\t/iiif/3/photo.png/bogus\t400\t-',
        `${oldBase}/photo.png/full/max/90/gray.png`,
        'not a request at all',
      ].join('\n'),
    );
    const { code, report } = await compare(['--old', oldBase, '--new', oldBase, '--urls', log]);
    expect(code).toBe(0);
    expect(report.results.map((r) => r.path).sort()).toEqual(
      [
        'photo.png/0,0,256,256/256,256/0/default.jpg',
        'photo.png/full/!200,200/0/default.jpg',
        'photo.png/full/max/90/gray.png',
        'photo.png/info.json',
      ].sort(),
    );
    expect(report.ignoredLines).toBe(3);
    expect(report.results.every((r) => r.meanAbsDiff === undefined || r.meanAbsDiff === 0)).toBe(true);
  });

  it('decodes the CloudFront log field once, as CloudFront encoded it, and says how many URLs got no 2xx', async () => {
    const log = join(work, 'cloudfront.log');
    const line = (stem: string) => `2026-12-04\t10:00:04\tIAD89-C3\t4000\t10.0.0.5\tGET\td1.cloudfront.net\t${stem}\t200\t-`;
    // A viewer asked for `%5E200,` and `photo%2Epng`: CloudFront logs `%` as `%25` (its standard log format).
    const lines = ['#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer)'];
    lines.push(line('/iiif/3/photo%252Epng/full/%255E200,/0/default.jpg'), line('/iiif/3/missing.png/info.json'));
    await writeFile(log, lines.join('\n'));
    const { code, stderr, report } = await compare(['--old', oldBase, '--new', oldBase, '--urls', log]);
    expect(code).toBe(0);
    const decoded = report.results.find((r) => r.path === 'photo%2Epng/full/%5E200,/0/default.jpg');
    expect([decoded?.old.status, decoded?.old.width]).toEqual([200, 200]);
    expect(stderr).toContain('1 of 2 URLs got no 2xx from the old server');
    // Fields of one's choosing (standard logging v2) may end with cs-uri-stem.
    const last = join(work, 'cloudfront-last.log');
    await writeFile(last, ['#Fields: date time cs-uri-stem', '2026-12-04\t10:00:04\t/iiif/3/photo%252Epng/info.json'].join('\n'));
    const fields = await compare(['--old', oldBase, '--new', oldBase, '--urls', last]);
    expect(fields.report.results.map((r) => [r.path, r.old.status])).toEqual([['photo%2Epng/info.json', 200]]);
  });

  it('keeps the status of a server whose body stalls after it, with the timeout as the error', async () => {
    // Answers 200 and its headers, then never finishes the body.
    const stalled = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'image/png', 'Content-Length': '1000' });
      res.write(Buffer.alloc(10));
    });
    await new Promise<void>((ok) => stalled.listen(0, '127.0.0.1', ok));
    try {
      const urls = join(work, 'stalled.txt');
      await writeFile(urls, 'photo.png/full/100,/0/default.png\n');
      const run = await compare(['--old', `http://127.0.0.1:${(stalled.address() as AddressInfo).port}/iiif/3`, '--new', newBase, '--urls', urls, '--timeout', '1000']);
      expect(run.code).toBe(1);
      expect(run.report.results[0]?.old).toMatchObject({ status: 200, error: expect.stringMatching(/./) });
    } finally {
      stalled.closeAllConnections();
      await new Promise<void>((ok) => stalled.close(() => ok()));
    }
  });

  it('reports an info.json whose id names another host', async () => {
    const urls = join(work, 'info.txt');
    await writeFile(urls, 'photo.png/info.json\nphoto.png/full/!200,200/0/default.jpg\n');
    const { code, report } = await compare(['--old', oldBase, '--new', `${twinServer.url}/iiif/3`, '--urls', urls]);
    expect(code).toBe(1);
    const info = report.results.find((r) => r.path === 'photo.png/info.json');
    expect(info?.infoDiffs).toEqual([`id scheme "https:" → "http:"`, `id host "images.example.org" → "${new URL(twinServer.url).host}"`]);
    expect(report.results.find((r) => r.path.endsWith('.jpg'))?.meanAbsDiff).toBe(0);
  });

  it('reports an info.json whose id has another path or whose API version differs, though every image matches', async () => {
    // A public base URL with a path too many: every id is a 404 on the new server itself.
    const wrongBase = await startServer({ PORT: '0', HOST: '127.0.0.1', IIIF_TILE_SIZE: '256', IIIF_ROOT: join(work, 'old'), IIIF_JPEG_QUALITY: '95', IIIF_PUBLIC_BASE_URL: `${PUBLIC}/iiif` });
    try {
      const urls = join(work, 'id-path.txt');
      await writeFile(urls, 'photo.png/info.json\nphoto.png/full/!200,200/0/default.jpg\n');
      const moved = await compare(['--old', oldBase, '--new', `${wrongBase.url}/iiif/3`, '--urls', urls]);
      expect(moved.code).toBe(1);
      expect(moved.report.results.find((r) => r.path === 'photo.png/info.json')?.infoDiffs).toEqual([`id path "/iiif/3/photo.png" → "/iiif/iiif/3/photo.png"`]);
      // Accepted on purpose, it is still reported, as ignored.
      expect((await compare(['--old', oldBase, '--new', `${wrongBase.url}/iiif/3`, '--urls', urls, '--ignore', 'id path'])).code).toBe(0);
    } finally {
      await wrongBase.close();
    }
    // A 2.1 info.json answered by a 3.0 one: the version and the id's path differ.
    const urls = join(work, 'version.txt');
    await writeFile(urls, 'photo.png/info.json\n');
    const versions = await compare(['--old', `${new URL(oldBase).origin}/iiif/2`, '--new', newBase, '--urls', urls]);
    expect(versions.code).toBe(1);
    expect(versions.report.results[0]?.infoDiffs).toEqual(expect.arrayContaining([`version "2" → "3"`, `id path "/iiif/2/photo.png" → "/iiif/3/photo.png"`]));
  });

  it('refuses bad arguments with one line and exit 2', async () => {
    const ids = join(work, 'ids-args.txt');
    await writeFile(ids, 'photo.png\n');
    for (const args of [
      ['compare', '--new', newBase, '--ids', ids],
      ['compare', '--old', 'ftp://x', '--new', newBase, '--ids', ids],
      ['compare', '--old', oldBase, '--new', newBase, '--ids', ids, '--threshold', 'abc'],
      ['compare', '--old', oldBase, '--new', newBase],
      ['compare', '--old', oldBase, '--new', newBase, '--ids', ids, '--urls', ids],
      ['compare', '--old', oldBase, '--new', newBase, '--urls', join(work, 'missing.txt')],
      // Known before any request is replayed, not after hours of them.
      ['compare', '--old', oldBase, '--new', newBase, '--ids', ids, '--report', join(work, 'no-such-dir', 'r.json')],
    ]) {
      const run = await runCli(args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(run.stderr).not.toMatch(/\n\s+at /);
    }
    const help = await runCli(['compare', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--threshold');
  });

  it('reads at most 1 MiB of the old info.json for --ids: a larger or endless one is no usable info.json', async () => {
    const MiB = 1024 * 1024;
    const sent: number[] = [];
    const big = JSON.stringify({ width: 1000, height: 750, padding: ' '.repeat(2 * MiB) });
    const old = await fakeServer(async (req, res) => {
      if (req.url === '/iiif/3/big/info.json') return void res.writeHead(200, { 'Content-Type': 'application/json' }).end(big);
      if (req.url !== '/iiif/3/endless/info.json') return void res.writeHead(404).end();
      // Never-ending JSON, bounded here (48 MiB) so that a reader without a cap cannot exhaust the machine.
      const k = sent.push(0) - 1;
      let closed = false;
      res.on('close', () => (closed = true));
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"width":1000,"height":750,"padding":"');
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      while (!closed && (sent[k] ?? 0) < 48 * MiB) {
        sent[k] = (sent[k] ?? 0) + chunk.length;
        if (!res.write(chunk)) await drained(res);
      }
      res.end('"}');
    });
    try {
      const ids = join(work, 'ids-capped.txt');
      await writeFile(ids, 'big\nendless\n');
      const run = await compare(['--old', `${old.base}/iiif/3`, '--new', newBase, '--ids', ids]);
      expect(run.report.notes).toEqual([expect.stringMatching(/^big: no usable info\.json/), expect.stringMatching(/^endless: no usable info\.json/)]);
      // No tile of the 2 MiB info.json was requested: it was not used.
      expect(run.report.results.map((r) => r.path).filter((p) => p.startsWith('big/'))).toEqual(['big/full/!200,200/0/default.jpg', 'big/info.json']);
      // The first request (the one --ids reads) stopped near the cap: socket buffers, not the whole body.
      expect(sent[0]).toBeLessThan(16 * MiB);
    } finally {
      await old.close();
    }
  });

  it('ignores and counts a URL line no URL parser reads, rather than stopping', async () => {
    const urls = join(work, 'malformed.txt');
    await writeFile(urls, 'photo.png/full/max/0/default.jpg\nhttp://[oops/iiif/3/a/info.json\n');
    const run = await compare(['--old', oldBase, '--new', oldBase, '--urls', urls]);
    expect(run.stderr).not.toContain('Invalid URL');
    expect(run.code).toBe(0);
    expect(run.report.ignoredLines).toBe(1);
    expect(run.report.results.map((r) => r.path)).toEqual(['photo.png/full/max/0/default.jpg']);
  });

  it('builds the viewer set from the usable tiles and sizes of the old info.json only', async () => {
    const infos: Record<string, unknown> = {
      notiles: { tiles: [{ width: 256, height: 256 }] },
      nulltile: { tiles: [null], sizes: [null, { width: 'a' }, { width: 250, height: 188 }] },
      zerowidth: { tiles: [{ width: 0, scaleFactors: [1] }] },
      mixed: { tiles: [{ width: 256, scaleFactors: [1, 0, 'x', 2.5] }, { width: 256, height: -1, scaleFactors: [1] }, { width: 256, height: 256, scaleFactors: [1] }] },
    };
    // Each identifier is photo.png on the real old server, under an info.json with broken tiles.
    const old = await fakeServer(async (req, res) => {
      const [, id = '', ...rest] = (req.url ?? '').replace('/iiif/3', '').split('/');
      if (rest.join('/') !== 'info.json') return proxy(res, `${oldBase}/photo.png/${rest.join('/')}`);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ '@context': 'http://iiif.io/api/image/3/context.json', id: `${PUBLIC}/iiif/3/${id}`, width: 1000, height: 750, ...(infos[id] as object) }));
    });
    const renamed = await fakeServer(async (req, res) => {
      const [, , ...rest] = (req.url ?? '').replace('/iiif/3', '').split('/');
      return proxy(res, `${oldBase}/photo.png/${rest.join('/')}`);
    });
    try {
      const ids = join(work, 'ids-tiles.txt');
      await writeFile(ids, Object.keys(infos).join('\n'));
      const run = await compare(['--old', `${old.base}/iiif/3`, '--new', `${renamed.base}/iiif/3`, '--ids', ids]);
      expect(run.stderr).not.toMatch(/not iterable|Cannot read/);
      const paths = run.report.results.map((r) => r.path);
      for (const id of Object.keys(infos)) expect(paths).toEqual(expect.arrayContaining([`${id}/info.json`, `${id}/full/!200,200/0/default.jpg`]));
      expect(paths.filter((p) => /NaN|Infinity|undefined/.test(p))).toEqual([]);
      // Every replayed request is one the old server answers: valid regions and sizes, none of them 0.
      expect(run.report.results.filter((r) => r.old.status !== 200).map((r) => r.path)).toEqual([]);
      // The usable entry is used (256-px tiles at scale factor 1 only), and the listed 250×188.
      expect(paths).toContain('mixed/0,0,256,256/256,256/0/default.jpg');
      expect(paths.filter((p) => p.startsWith('mixed/0,0,512,512/'))).toEqual([]);
      expect(paths).toContain('nulltile/full/250,188/0/default.jpg');
      expect(run.report.notes.sort()).toEqual(['notiles', 'nulltile', 'zerowidth'].map((id) => `${id}: no usable tiles in the old info.json, the core's own tiling used`));
      expect(run.stderr).toContain("zerowidth: no usable tiles in the old info.json");
      // Only info.json differs: the old one lists broken tiles.
      expect(run.report.results.filter((r) => r.differences.length > 0).every((r) => r.path.endsWith('/info.json'))).toBe(true);
      expect(run.code).toBe(1);
    } finally {
      await Promise.all([old.close(), renamed.close()]);
    }
  });

  it('--ids reads the old info.json within --rate and --concurrency, with a progress line', async () => {
    // Every request to the old server: when it arrived, and how many were in flight at once.
    const arrivals: number[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const old = await fakeServer(async (req, res) => {
      arrivals.push(Date.now());
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      await new Promise((ok) => setTimeout(ok, 100));
      inFlight--;
      // One tile and a few sizes an identifier: a short replay.
      const info = { '@context': 'http://iiif.io/api/image/3/context.json', id: 'x', profile: 'level2', width: 64, height: 64, tiles: [{ width: 512, scaleFactors: [1] }] };
      if ((req.url ?? '').endsWith('/info.json')) res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(info));
      else res.writeHead(404).end();
    });
    try {
      const ids = join(work, 'ids-rate.txt');
      await writeFile(ids, Array.from({ length: 8 }, (_, i) => `img${i}`).join('\n'));
      const busiestSecond = () => Math.max(...arrivals.map((t) => arrivals.filter((u) => u >= t && u < t + 1000).length));
      const paced = await compare(['--old', `${old.base}/iiif/3`, '--new', newBase, '--ids', ids, '--rate', '4', '--concurrency', '4']);
      expect(paced.report.urls).toBeGreaterThan(8);
      // The info.json reads and the replay share one pace: 4 a second across both (one more for timing jitter).
      expect(busiestSecond()).toBeLessThanOrEqual(5);
      expect(paced.stderr).toMatch(/^compare info\.json: 8\/8, [\d.]+ MB/m);
      arrivals.length = 0;
      maxInFlight = 0;
      const unpaced = await compare(['--old', `${old.base}/iiif/3`, '--new', newBase, '--ids', ids, '--rate', '0', '--concurrency', '2']);
      expect(unpaced.report.urls).toBe(paced.report.urls);
      expect(maxInFlight).toBe(2);
    } finally {
      await old.close();
    }
  });

  it('with stdout closed (`| head`) exits by the comparison, without a stack trace', async () => {
    const urls = join(work, 'urls-closed.txt');
    await writeFile(urls, 'photo.png/info.json\n');
    const run = await runCliClosedStdout(['compare', '--old', oldBase, '--new', oldBase, '--urls', urls]);
    expect(run.stderr).not.toMatch(/EPIPE|Unhandled|\n\s+at /);
    expect(run.code, run.stderr).toBe(0);
  });

  it('exits 3 and says so when the old server answered no URL with 2xx: nothing was compared', async () => {
    const ids = join(work, 'ids-missing.txt');
    await writeFile(ids, 'no-such-image.jpg\nnor-this.jpg\n');
    const missing = await compare(['--old', oldBase, '--new', newBase, '--ids', ids]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('no-such-image.jpg: no usable info.json');
    expect(missing.stderr).toMatch(/nothing was compared/);
    expect(missing.stdout).toMatch(/no 2xx from the old server: 4\b/);
    const failing = await fakeServer((_req, res) => void res.writeHead(500).end('oops'));
    try {
      const urls = join(work, 'urls-500.txt');
      await writeFile(urls, 'photo.png/info.json\nphoto.png/full/max/0/default.jpg\n');
      const broken = await compare(['--old', `${failing.base}/iiif/3`, '--new', `${failing.base}/iiif/3`, '--urls', urls]);
      expect(broken.code).toBe(3);
      expect(broken.stdout).toMatch(/no 2xx from the old server: 2\b/);
      // One URL the old server answers is enough to compare something.
      await writeFile(urls, 'photo.png/info.json\nno-such-image.jpg/info.json\n');
      const some = await compare(['--old', oldBase, '--new', oldBase, '--urls', urls]);
      expect(some.code).toBe(0);
      expect(some.stdout).toMatch(/no 2xx from the old server: 1\b/);
    } finally {
      await failing.close();
    }
  });

  it('--ignore tiles,sizes reports those info.json differences as ignored, outside the exit code', async () => {
    const urls = join(work, 'urls-info.txt');
    await writeFile(urls, 'photo.png/info.json\nphoto.png/full/!200,200/0/default.jpg\n');
    const args = ['--old', `${tile512Server.url}/iiif/3`, '--new', oldBase, '--urls', urls];
    const strict = await compare(args);
    expect(strict.code).toBe(1);
    expect(strict.report.results.find((r) => r.path === 'photo.png/info.json')?.infoDiffs?.map((d) => d.split(' ')[0])).toEqual(['sizes', 'tiles']);
    const accepted = await compare([...args, '--ignore', 'tiles,sizes']);
    expect(accepted.code).toBe(0);
    const info = accepted.report.results.find((r) => r.path === 'photo.png/info.json');
    expect(info?.differences).toEqual([]);
    expect(info?.ignored).toEqual([expect.stringMatching(/^info\.json sizes /), expect.stringMatching(/^info\.json tiles /)]);
    expect(accepted.stdout).toMatch(/ignored \(--ignore\): sizes 1, tiles 1/);
    // Only what is named is ignored.
    expect((await compare([...args, '--ignore', 'tiles'])).code).toBe(1);
    const bad = await runCli(['compare', ...args, '--ignore', 'tiles,colour']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain('colour');
  });

  it('compares outputs over --max-pixels by status, type, size and bytes, and skips their pixels', async () => {
    const big = await sharp({ create: { width: 6000, height: 5000, channels: 3, background: '#808080' } }).jpeg().toBuffer();
    const small = await photo(100, 100);
    const bodies: Record<string, [Buffer, Buffer]> = {
      big: [big, big],
      small: [await sharp(small).jpeg({ quality: 95 }).toBuffer(), await sharp(small).jpeg({ quality: 20 }).toBuffer()],
      smaller: [await sharp(small).jpeg().toBuffer(), await sharp(small).resize(100, 90, { fit: 'fill' }).jpeg().toBuffer()],
    };
    const both = await fakeServer((req, res) => {
      const [, side, , , id = ''] = (req.url ?? '').split('/');
      const body = bodies[id]?.[side === 'old' ? 0 : 1];
      res.writeHead(body ? 200 : 404, { 'Content-Type': 'image/jpeg' }).end(body);
    });
    try {
      const urls = join(work, 'urls-large.txt');
      await writeFile(urls, 'big/full/max/0/default.jpg\n');
      const sides = ['--old', `${both.base}/old/iiif/3`, '--new', `${both.base}/new/iiif/3`];
      const same = await compare([...sides, '--urls', urls]);
      expect(same.report.results[0]?.differences).toEqual([]);
      expect(same.report.results[0]?.meanAbsDiff).toBe(0);
      expect(same.code).toBe(0);
      await writeFile(urls, 'small/full/max/0/default.jpg\nsmaller/full/max/0/default.jpg\n');
      const run = await compare([...sides, '--urls', urls, '--max-pixels', '5000']);
      const [s, t] = run.report.results;
      expect(s?.differences).toEqual([]);
      expect(s?.skipped).toMatch(/^pixels not compared: 100×100 is over --max-pixels 5000$/);
      expect(s?.old).toMatchObject({ width: 100, height: 100 });
      expect(t?.differences).toEqual(['size 100×100 → 100×90']);
      expect(run.stdout).toMatch(/pixels not compared \(over --max-pixels\): 1/);
      expect(run.code).toBe(1);
    } finally {
      await both.close();
    }
  });

  it('writes the report only at the end, never over the URL list, and leaves an earlier one on failure or Ctrl-C', async () => {
    const report = join(work, 'kept-report.json');
    await writeFile(report, 'earlier report');
    const empty = join(work, 'no-requests.txt');
    await writeFile(empty, 'not a request\n');
    const usage = await runCli(['compare', '--old', oldBase, '--new', newBase, '--urls', empty, '--report', report]);
    expect(usage.code).toBe(2);
    expect(await readFile(report, 'utf8')).toBe('earlier report');
    const list = join(work, 'keep.txt');
    await writeFile(list, 'photo.png/info.json\n');
    for (const flag of ['--urls', '--ids']) {
      const same = await runCli(['compare', '--old', oldBase, '--new', newBase, flag, list, '--report', join(work, '.', 'keep.txt')]);
      expect(same.code, flag).toBe(2);
      expect(same.stderr.trim().split('\n')).toHaveLength(1);
      expect(await readFile(list, 'utf8')).toBe('photo.png/info.json\n');
    }
    // Interrupted while the old server holds a request.
    let requested: () => void = () => undefined;
    const asked = new Promise<void>((ok) => (requested = ok));
    const hanging = await fakeServer(() => requested());
    try {
      const child = spawn(process.execPath, [BIN, 'compare', '--old', `${hanging.base}/iiif/3`, '--new', newBase, '--urls', list, '--report', report], { stdio: 'ignore' });
      const exited = new Promise((ok) => child.on('exit', ok));
      await asked;
      child.kill('SIGINT');
      await exited;
      expect(await readFile(report, 'utf8')).toBe('earlier report');
    } finally {
      await hanging.close();
    }
    // A finished run replaces it.
    const done = await runCli(['compare', '--old', oldBase, '--new', oldBase, '--urls', list, '--report', report]);
    expect(done.code).toBe(0);
    expect((JSON.parse(await readFile(report, 'utf8')) as Report).urls).toBe(1);
  });

  it('says which server failed a request or sent what no decoder reads, and names a redirect loop', async () => {
    const good = await sharp(await photo(64, 64)).jpeg().toBuffer();
    const fake = await fakeServer((req, res) => {
      const url = req.url ?? '';
      if (url.startsWith('/loop/')) return void res.writeHead(302, { Location: url }).end();
      const body = url.startsWith('/garbage/') ? Buffer.from('not an image') : good;
      res.writeHead(200, { 'Content-Type': 'image/jpeg' }).end(body);
    });
    try {
      const urls = join(work, 'urls-which.txt');
      await writeFile(urls, 'a/full/max/0/default.jpg\n');
      const good3 = `${fake.base}/good/iiif/3`;
      const loop = await compare(['--old', good3, '--new', `${fake.base}/loop/iiif/3`, '--urls', urls]);
      expect(loop.report.results[0]?.differences[0]).toMatch(/^request failed on the new server: .*redirect/);
      const garbage = await compare(['--old', `${fake.base}/garbage/iiif/3`, '--new', good3, '--urls', urls]);
      expect(garbage.report.results[0]?.differences[0]).toMatch(/^not decodable on the old server: /);
      expect(garbage.code).toBe(1);
    } finally {
      await fake.close();
    }
  });

  it('passes a collection re-encoded by prepare at the default threshold, and fails a mirrored one', async () => {
    const source = join(work, 'samples');
    const prepared = join(work, 'samples-prepared');
    await mkdir(source, { recursive: true });
    await cp(fileURLToPath(new URL('../../adapters/node/samples/rings.jpg', import.meta.url)), join(source, 'rings.jpg'));
    expect((await runCli(['prepare', source, prepared])).code).toBe(0);
    const config = { PORT: '0', HOST: '127.0.0.1', IIIF_PUBLIC_BASE_URL: PUBLIC };
    const before = await startServer({ ...config, IIIF_ROOT: source });
    const after = await startServer({ ...config, IIIF_ROOT: prepared });
    // The same prepared images, served mirrored: a real mistake.
    const mirrored = await fakeServer((req, res) => proxy(res, `${after.url}${(req.url ?? '').replace('/0/default.jpg', '/!0/default.jpg')}`));
    try {
      const ids = join(work, 'ids-samples.txt');
      await writeFile(ids, 'rings.jpg\n');
      const args = ['--old', `${before.url}/iiif/3`, '--ids', ids, '--ignore', 'tiles,sizes'];
      const good = await compare([...args, '--new', `${after.url}/iiif/3`]);
      const means = good.report.results.flatMap((r) => (r.meanAbsDiff === undefined ? [] : [r.meanAbsDiff]));
      // Above the former default (3), below the default.
      expect(Math.max(...means)).toBeGreaterThan(3);
      expect(good.report.results.filter((r) => r.differences.length > 0)).toEqual([]);
      expect(good.code).toBe(0);
      const bad = await compare([...args, '--new', `${mirrored.base}/iiif/3`]);
      const images = bad.report.results.filter((r) => !r.path.endsWith('/info.json'));
      expect(images.filter((r) => !r.differences.some((d) => d.startsWith('pixels differ')))).toEqual([]);
      expect(bad.code).toBe(1);
    } finally {
      await Promise.all([before.close(), after.close(), mirrored.close()]);
    }
  });
});
