import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../adapters/node/server.ts';
import { runCli } from '../helpers/cli.ts';

interface Report {
  urls: number;
  differ: number;
  ignoredLines: number;
  results: Array<{
    path: string;
    old: { status: number; width?: number; height?: number; error?: string };
    new: { status: number };
    meanAbsDiff?: number;
    infoDiffs?: string[];
    differences: string[];
  }>;
}

const PUBLIC = 'https://images.example.org';
let work: string;
let oldServer: RunningServer;
let newServer: RunningServer;
let twinServer: RunningServer;
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
  await Promise.all([oldServer?.close(), newServer?.close(), twinServer?.close()]);
  await rm(work, { recursive: true, force: true });
});

async function compare(args: string[]): Promise<{ code: number; stdout: string; stderr: string; report: Report }> {
  const reportFile = join(work, `report-${Math.random().toString(36).slice(2)}.json`);
  const run = await runCli(['compare', ...args, '--report', reportFile]);
  const report = JSON.parse(await readFile(reportFile, 'utf8').catch(() => '{}')) as Report;
  return { ...run, report };
}

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
    await writeFile(urls, 'photo.png/0,0,256,256/256,/0/default.jp2\nphoto.png/0,0,256,256/256,/0/default.pdf\n');
    const same = await compare(['--old', oldBase, '--new', oldBase, '--urls', urls]);
    expect(same.report.results.map((r) => r.differences)).toEqual([[], []]);
    expect(same.report.results.map((r) => [r.old.width, r.old.height, r.meanAbsDiff])).toEqual([[256, 256, 0], [256, 256, 0]]);
    expect(same.code).toBe(0);
    // pdf holds a JPEG at the server's quality (95 against 30): its pixels differ; jp2 is encoded at one rate.
    const changed = await compare(['--old', oldBase, '--new', newBase, '--urls', urls, '--threshold', '0.5']);
    expect(changed.report.results[1]?.differences[0]).toMatch(/^pixels differ by/);
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
    expect(info?.infoDiffs).toEqual([`id host "images.example.org" → "${new URL(twinServer.url).host}"`]);
    expect(report.results.find((r) => r.path.endsWith('.jpg'))?.meanAbsDiff).toBe(0);
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
});
