import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { execFile as execFileChild } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../adapters/node/server.ts';
import { pyramidLevels, readTiffStructure, readTileLocation, spliceJpegTile, spliceOptionsFor } from '../../src/tiff/index.ts';
import { jp2Strips } from '../../adapters/cli/bands.ts';
import { readJp2Header } from '../../adapters/cli/jp2-input.ts';
import { nodeJp2Codec } from '../../src/renderers/sharp-jp2.ts';
import { runCli, runCliClosedStdout } from '../helpers/cli.ts';
import { makePaletteJp2 } from '../helpers/jp2-images.ts';
import { pngBomb } from '../helpers/hostile-files.ts';
import { putObject, s3rverClient, startS3rver, useS3rverCredentials, type LocalS3 } from '../helpers/s3rver.ts';

interface Summary {
  files: number;
  converted: number;
  planned: number;
  skipped: number;
  failed: number;
  ignored: number;
  hidden: number;
  linksOutside: number;
  errors: Array<{ file: string; reason: string }>;
}

const RED = { r: 220, g: 20, b: 20 };
const BLUE = { r: 20, g: 20, b: 220 };
let work: string;
let src: string;

/** 1200×900, red left half and blue right half, stored with EXIF orientation 6 (shown turned 90° clockwise). */
async function orientedPhoto(): Promise<Buffer> {
  const half = (background: typeof RED) => sharp({ create: { width: 600, height: 900, channels: 3, background } }).png().toBuffer();
  return sharp({ create: { width: 1200, height: 900, channels: 3, background: RED } })
    .composite([{ input: await half(BLUE), left: 600, top: 0 }])
    .jpeg({ quality: 95 })
    .withMetadata({ orientation: 6 })
    .toBuffer();
}

/** 700×1200 (three 512-row decode bands): red is x, green is y, blue a 64-px checkerboard. */
const SCAN = { width: 700, height: 1200 } as const;
function scanPixels(): Uint8Array {
  const data = new Uint8Array(SCAN.width * SCAN.height * 3);
  for (let y = 0; y < SCAN.height; y++) {
    for (let x = 0; x < SCAN.width; x++) {
      const i = (y * SCAN.width + x) * 3;
      data.set([x % 256, y % 256, ((x >> 6) + (y >> 6)) % 2 ? 255 : 0], i);
    }
  }
  return data;
}

async function losslessJp2(): Promise<Uint8Array> {
  const codec = await nodeJp2Codec();
  return codec.encode({ data: scanPixels(), ...SCAN, channels: 3 }, { format: 'jp2', lossless: true });
}

async function put(root: string, name: string, bytes: Uint8Array | string): Promise<void> {
  await mkdir(dirname(join(root, name)), { recursive: true });
  await writeFile(join(root, name), bytes);
}

async function inputs(): Promise<Record<string, Uint8Array | string>> {
  const png = await sharp({ create: { width: 640, height: 480, channels: 3, background: BLUE } }).png().toBuffer();
  return {
    'photo.jpg': await orientedPhoto(),
    'nested/alpha.png': await sharp({ create: { width: 640, height: 480, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
      .png()
      .toBuffer(),
    'cmyk.jpg': await sharp({ create: { width: 300, height: 200, channels: 3, background: RED } }).toColourspace('cmyk').jpeg().toBuffer(),
    'broken.jpg': 'not an image at all',
    'truncated.png': png.subarray(0, png.length >> 1),
    'scan.jp2': await losslessJp2(),
    // A JP2 signature box and file-type box, and nothing after them.
    'bad.jp2': Buffer.from('0000000c6a5020200d0a870a00000014667479706a703220', 'hex'),
    'big.png': await sharp({ create: { width: 1500, height: 1000, channels: 3, background: RED } }).png().toBuffer(),
    // A few hundred bytes declaring 30000×30000: refused from the header, before any decoding.
    'bomb.png': pngBomb(30_000, 30_000),
    'readme.txt': 'not an image',
  };
}

/** A tiled TIFF whose Compression tag says ZSTD, which sharp's libtiff lacks (libvips would read black tiles). */
async function zstdTiff(): Promise<Buffer> {
  const tiled = await sharp({ create: { width: 64, height: 64, channels: 3, background: RED } }).tiff({ tile: true, tileWidth: 16, tileHeight: 16, compression: 'lzw' }).toBuffer();
  const at = tiled.indexOf(Buffer.from([0x03, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05, 0x00]));
  if (at < 0) throw new Error('no Compression entry');
  tiled.writeUInt16LE(50000, at + 8);
  return tiled;
}

beforeAll(async () => {
  useS3rverCredentials();
  work = await mkdtemp(join(tmpdir(), 'iiif-edge-prepare-test-'));
  src = join(work, 'src');
  for (const [name, bytes] of Object.entries(await inputs())) await put(src, name, bytes);
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function prepare(args: string[], env: Record<string, string> = {}, user?: { uid: number; gid: number }) {
  const run = await runCli(['prepare', ...args], env, user);
  let summary: Summary | undefined;
  try {
    summary = JSON.parse(run.stdout) as Summary;
  } catch {
    summary = undefined;
  }
  return { ...run, summary };
}

/** What a TIFF reader sees in the file: levels, tiling, compression, colour model, and a decoded tile. */
async function inspect(file: string) {
  const bytes = new Uint8Array(await readFile(file));
  const read = async (offset: number, length: number) => bytes.subarray(offset, offset + length);
  const levels = pyramidLevels(await readTiffStructure(read, bytes.length));
  const top = levels[0];
  if (!top) throw new Error('no level');
  const loc = await readTileLocation(read, top, 0, 0);
  const tile = spliceJpegTile(top.jpegTables, bytes.subarray(loc.offset, loc.offset + loc.length), spliceOptionsFor(top));
  return { levels, top, tileMeta: await sharp(tile).metadata() };
}

async function pixel(file: string, x: number, y: number): Promise<number[]> {
  const { data, info } = await sharp(file).extract({ left: x, top: y, width: 1, height: 1 }).raw().toBuffer({ resolveWithObject: true });
  return [...data.subarray(0, info.channels)];
}

const CLI_BIN = fileURLToPath(new URL('../../adapters/cli/bin.mjs', import.meta.url));

/** Each test spawns the CLI several times; on a busy machine one run can take 10 s. */
const CLI_TIMEOUT_MS = 180_000;

describe('iiif-edge prepare, folder to folder', { timeout: CLI_TIMEOUT_MS }, () => {
  it('writes tiled pyramidal JPEG TIFFs under the same names and reports every bad input without stopping', async () => {
    const out = join(work, 'out');
    const run = await prepare([src, out, '--max-input-pixels', '1200000']);
    expect(run.code).toBe(1);
    expect(run.summary).toMatchObject({ files: 9, converted: 4, skipped: 0, failed: 5, ignored: 1 });
    const reasons = Object.fromEntries(run.summary?.errors.map((e) => [e.file, e.reason]) ?? []);
    expect(reasons['broken.jpg']).toMatch(/^unreadable input: /);
    expect(reasons['truncated.png']).toMatch(/^(unreadable input|cannot convert): /);
    expect(reasons['bad.jp2']).toMatch(/^unreadable input: /);
    expect(reasons['bomb.png']).toBe('input too large: 30000×30000 is over 1200000 pixels (--max-input-pixels)');
    expect(reasons['big.png']).toBe('input too large: 1500×1000 is over 1200000 pixels (--max-input-pixels)');
    // Not a terminal: plain progress lines on stderr, each error on its own line.
    expect(run.stderr).toMatch(/^prepare: 9\/9, [\d.]+ MB, [\d.]+\/s/m);
    expect(run.stderr).toContain('broken.jpg: unreadable input');
    expect((await readdir(out, { recursive: true })).sort()).toEqual(['cmyk.jpg', 'nested', 'nested/alpha.png', 'photo.jpg', 'scan.jp2']);

    // Orientation applied: 900×1200, the red half on top. 256-px JPEG tiles, 4:2:0, levels down to one tile.
    const photo = await inspect(join(out, 'photo.jpg'));
    // One page per level, halving down to the first level that fits in a tile (as sharp reads the pages).
    const pages = (await sharp(join(out, 'photo.jpg')).metadata()).pages ?? 0;
    const pageSizes = [];
    for (let page = 0; page < pages; page++) {
      const m = await sharp(join(out, 'photo.jpg'), { page }).metadata();
      pageSizes.push([m.width, m.height]);
    }
    expect(photo.levels.map((l) => [l.width, l.height])).toEqual(pageSizes);
    expect(pageSizes.slice(0, 3)).toEqual([[900, 1200], [450, 600], [225, 300]]);
    expect(pageSizes).toHaveLength(4);
    expect(Math.max(...(pageSizes[3] as number[]))).toBeLessThanOrEqual(256);
    expect(photo.levels.every((l) => l.tiled && l.tileWidth === 256 && l.tileHeight === 256 && l.compression === 7)).toBe(true);
    expect(photo.top.photometric).toBe(6);
    expect(photo.tileMeta).toMatchObject({ format: 'jpeg', width: 256, height: 256, chromaSubsampling: '4:2:0' });
    const [top, bottom] = [await pixel(join(out, 'photo.jpg'), 450, 100), await pixel(join(out, 'photo.jpg'), 450, 1100)];
    expect(top[0]).toBeGreaterThan(180);
    expect(bottom[2]).toBeGreaterThan(180);
    // Transparent → white; CMYK → 3-channel sRGB close to the red it was made from.
    expect(await pixel(join(out, 'nested/alpha.png'), 10, 10)).toEqual([255, 255, 255]);
    const red = await pixel(join(out, 'cmyk.jpg'), 150, 100);
    expect(red).toHaveLength(3);
    expect(Math.abs((red[0] ?? 0) - RED.r)).toBeLessThan(40);
    expect((await sharp(join(out, 'cmyk.jpg')).metadata()).space).toBe('srgb');
    // JPEG 2000 through our OpenJPEG build: the pyramid holds the source's pixels (JPEG loss only).
    const scan = await sharp(join(out, 'scan.jp2')).raw().toBuffer({ resolveWithObject: true });
    expect([scan.info.width, scan.info.height, scan.info.channels]).toEqual([SCAN.width, SCAN.height, 3]);
    const source = scanPixels();
    let sum = 0;
    for (let i = 0; i < source.length; i++) sum += Math.abs((scan.data[i] ?? 0) - (source[i] ?? 0));
    expect(sum / source.length).toBeLessThan(6);

    // The server serves the prepared folder under the old identifiers.
    const server = await startServer({ IIIF_ROOT: out, PORT: '0' });
    try {
      const info = (await (await fetch(`${server.url}/iiif/3/photo.jpg/info.json`)).json()) as Record<string, unknown>;
      expect(info).toMatchObject({ width: 900, height: 1200, tiles: [{ width: 256, height: 256, scaleFactors: [1, 2, 4, 8] }] });
      const tile = await fetch(`${server.url}/iiif/3/photo.jpg/768,1024,132,176/132,176/0/default.jpg`);
      expect(tile.status).toBe(200);
      expect(await sharp(Buffer.from(await tile.arrayBuffer())).metadata()).toMatchObject({ width: 132, height: 176 });
    } finally {
      await server.close();
    }
  });

  it('resumes: skips up-to-date outputs, redoes changed inputs, broken outputs and everything with --force', async () => {
    const out = join(work, 'resume');
    const first = await prepare([src, out, '--max-input-pixels', '1200000']);
    expect(first.summary).toMatchObject({ converted: 4, skipped: 0 });
    const again = await prepare([src, out, '--max-input-pixels', '1200000']);
    expect(again.summary).toMatchObject({ converted: 0, skipped: 4, failed: 5 });
    // An input changed after its output, and an output cut short by a crash (newer than its input).
    const later = new Date(Date.now() + 60_000);
    await utimes(join(src, 'cmyk.jpg'), later, later);
    await writeFile(join(out, 'nested/alpha.png'), 'II*\0 half a tiff');
    const third = await prepare([src, out, '--max-input-pixels', '1200000']);
    expect(third.summary).toMatchObject({ converted: 2, skipped: 2 });
    expect((await sharp(join(out, 'nested/alpha.png')).metadata()).width).toBe(640);
    const forced = await prepare([src, out, '--max-input-pixels', '1200000', '--force']);
    expect(forced.summary).toMatchObject({ converted: 4, skipped: 0 });
    await utimes(join(src, 'cmyk.jpg'), new Date(), new Date(Date.now() - 60_000));
    // An output cut short after its first directory, and outputs of another tile size, are not done.
    const whole = await readFile(join(out, 'photo.jpg'));
    await writeFile(join(out, 'photo.jpg'), whole.subarray(0, Math.floor(whole.length * 0.75)));
    expect((await prepare([src, out, '--max-input-pixels', '1200000'])).summary).toMatchObject({ converted: 1, skipped: 3 });
    expect((await prepare([src, out, '--max-input-pixels', '1200000', '--tile-size', '512'])).summary).toMatchObject({ converted: 4, skipped: 0 });
    // Outputs of another quality are redone, then kept.
    const q40 = ['--max-input-pixels', '1200000', '--tile-size', '512', '--quality', '40'];
    expect((await prepare([src, out, ...q40])).summary).toMatchObject({ converted: 4, skipped: 0 });
    expect((await prepare([src, out, ...q40])).summary).toMatchObject({ converted: 0, skipped: 4 });
  });

  it('--dry-run writes nothing; --rename and --key-template change names; clashing names are reported', async () => {
    const dry = join(work, 'dry');
    const run = await prepare([src, dry, '--dry-run', '--rename', '.jpg:.tif']);
    expect(run.summary).toMatchObject({ planned: 9, converted: 0 });
    expect(await stat(dry).catch(() => undefined)).toBeUndefined();
    expect(JSON.parse(run.stdout).plan).toContainEqual({ file: 'photo.jpg', output: 'photo.tif', action: 'convert' });

    const renamed = join(work, 'renamed');
    await prepare([src, renamed, '--rename', '.JPG:.tif', '--rename', '.png:.tiff', '--rename', '.jp2:.tif', '--max-input-pixels', '1200000']);
    expect((await readdir(renamed, { recursive: true })).sort()).toEqual(['cmyk.tif', 'nested', 'nested/alpha.tiff', 'photo.tif', 'scan.tif']);

    const clash = join(work, 'clash-src');
    await put(clash, 'a.jpg', await orientedPhoto());
    await put(clash, 'a.png', await sharp({ create: { width: 64, height: 64, channels: 3, background: RED } }).png().toBuffer());
    await put(clash, 'b.png', await sharp({ create: { width: 64, height: 64, channels: 3, background: RED } }).png().toBuffer());
    const templated = await prepare([clash, join(work, 'clash-out'), '--key-template', '%s.tif']);
    expect(templated.code).toBe(1);
    expect(templated.summary).toMatchObject({ converted: 1, failed: 2 });
    expect(templated.summary?.errors.map((e) => e.file).sort()).toEqual(['a.jpg', 'a.png']);
    expect(await readdir(join(work, 'clash-out'))).toEqual(['b.tif']);
  });

  it('takes every name and link the server serves, refuses what it cannot decode, never writes outside DEST', async () => {
    const from = join(work, 'kinds');
    const photo = await orientedPhoto();
    await put(from, 'a.jpg', photo);
    await put(from, 'b.jfif', photo);
    await put(from, 'c.jpe', photo);
    await put(from, 'scan.j2c', await losslessJp2());
    await put(from, 'zstd.tif', await zstdTiff());
    // A link to an image inside SOURCE is served there, so it is converted; one leading out is not listed.
    await symlink('a.jpg', join(from, 'link.jpg'));
    await writeFile(join(work, 'elsewhere.jpg'), photo);
    await symlink(join(work, 'elsewhere.jpg'), join(from, 'outside.jpg'));
    const out = join(work, 'kinds-out');
    const run = await prepare([from, out]);
    expect(run.summary).toMatchObject({ files: 6, converted: 5, failed: 1, ignored: 0 });
    expect(run.summary?.errors).toEqual([{ file: 'zstd.tif', reason: 'cannot convert: TIFF images compressed with ZSTD cannot be decoded here' }]);
    expect((await readdir(out)).sort()).toEqual(['a.jpg', 'b.jfif', 'c.jpe', 'link.jpg', 'scan.j2c']);
    // An output name that climbs out of DEST is refused before anything is written.
    const escape = await prepare([from, join(work, 'kinds-escape'), '--key-template', '../%s.tif']);
    expect(escape.code).toBe(2);
    expect(escape.stderr).toMatch(/not a name inside DEST/);
    expect(await stat(join(work, 'a.tif')).catch(() => undefined)).toBeUndefined();
  });

  it('on Ctrl-C (SIGINT) leaves no partial output behind and exits 130', async () => {
    const from = join(work, 'interrupt');
    // Noise compresses badly: each conversion takes long enough to be caught mid-write.
    const noisy = await sharp({ create: { width: 3000, height: 2000, channels: 3, background: RED, noise: { type: 'gaussian', mean: 128, sigma: 60 } } }).png().toBuffer();
    for (let i = 0; i < 4; i++) await put(from, `n${i}.png`, noisy);
    const out = join(work, 'interrupt-out');
    const child = execFileChild(process.execPath, [CLI_BIN, 'prepare', from, out, '--concurrency', '2']);
    const exited = new Promise<number | null>((ok) => child.once('exit', (code, signal) => ok(code ?? (signal ? -1 : null))));
    // Outputs are written in a hidden per-run folder of DEST, then renamed into place.
    const staged = async () => (await readdir(out, { recursive: true }).catch(() => [] as string[])).filter((f) => f.includes('.iiif-edge-partial-'));
    const partial = async () => (await staged()).some((f) => f.includes('/'));
    for (let i = 0; i < 600 && !(await partial()); i++) await new Promise((ok) => setTimeout(ok, 25));
    expect(await partial()).toBe(true);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(await staged()).toEqual([]);
  });

  it('refuses bad arguments with one line and exit 2', async () => {
    await writeFile(join(work, 'a-file'), 'not a folder');
    // DEST that is SOURCE through a link: outputs would replace the inputs of the same name.
    await symlink(src, join(work, 'src-link'));
    const before = await readFile(join(src, 'photo.jpg'));
    for (const args of [
      ['prepare', src, ''],
      ['prepare', '', join(work, 'x')],
      ['prepare', src, join(work, 'src-link')],
      ['prepare', src, join(work, 'src-link', 'nested')],
      ['prepare', join(work, 'src-link'), src],
      ['prepare', src],
      ['prepare', src, join(work, 'x'), '--quality', '0'],
      ['prepare', src, join(work, 'x'), '--tile-size', '100'],
      ['prepare', src, join(work, 'x'), '--rename', 'tif'],
      ['prepare', src, join(work, 'x'), '--key-template', 'plain.tif'],
      ['prepare', src, src],
      ['prepare', src, join(src, 'prepared')],
      // DEST enclosing SOURCE: SOURCE's sub/x.jpg would be written over its own x.jpg.
      ['prepare', src, work],
      ['prepare', join(work, 'src-link'), work],
      ['prepare', join(work, 'no-such-folder'), join(work, 'x')],
      // DEST is a file.
      ['prepare', src, join(work, 'a-file')],
      ['prepare', src, join(work, 'x'), '--bogus'],
    ]) {
      const run = await runCli(args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
    const help = await runCli(['prepare', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--dry-run');
    // A mistyped command is named as one; `help` and `help prepare` are --help.
    const typo = await runCli(['preapre', src, join(work, 'x')]);
    expect([typo.code, typo.stderr]).toEqual([2, "iiif-edge: unknown command 'preapre' (did you mean prepare?); commands: prepare, compare\n"]);
    // After the server's flags and their values too (it said "too many arguments").
    for (const flags of [['--root', src], [`--root=${src}`, '--port', '0']]) {
      const late = await runCli([...flags, 'prepar', src, join(work, 'x')]);
      expect([late.code, late.stderr], flags.join(' ')).toEqual([2, "iiif-edge: unknown command 'prepar' (did you mean prepare?); commands: prepare, compare\n"]);
    }
    expect(await runCli(['help', 'prepare'])).toEqual(help);
    expect(await runCli(['help'])).toEqual(await runCli(['--help']));
    expect(await runCli(['help', 'preapre'])).toEqual(typo);
    // Nothing was written: the inputs are as they were, and a missing SOURCE made no DEST.
    expect((await readFile(join(src, 'photo.jpg'))).equals(before)).toBe(true);
    expect(await stat(join(work, 'x')).catch(() => undefined)).toBeUndefined();
    await rm(join(work, 'src-link'));
  });

  it('lists unreadable folders and files and links to nothing as failed inputs, and converts the rest', async () => {
    const from = join(work, 'unreadable');
    await put(from, 'ok.jpg', await orientedPhoto());
    await put(from, 'closed/x.jpg', await orientedPhoto());
    // Listed but not entered (`chmod -R 644`): its names cannot be read.
    await put(from, 'listed/y.jpg', await orientedPhoto());
    await put(from, '.hidden-closed/z.jpg', await orientedPhoto());
    await symlink('missing.jpg', join(from, 'gone.jpg'));
    // A link to a folder that is not there (an unmounted share).
    await symlink('missing-share', join(from, 'share'));
    const out = join(work, 'unreadable-out');
    await mkdir(out);
    // Root reads any folder: the run is then made as `nobody`, with the folders it needs opened to it.
    const asRoot = process.getuid?.() === 0;
    if (asRoot) for (const dir of [work, from, out]) await chmod(dir, 0o777);
    const modes: Array<[string, number]> = [['closed', 0], ['.hidden-closed', 0], ['listed', 0o644]];
    for (const [dir, mode] of modes) await chmod(join(from, dir), mode);
    const run = await prepare([from, out], {}, asRoot ? { uid: 65534, gid: 65534 } : undefined);
    for (const [dir] of modes) await chmod(join(from, dir), 0o755);
    if (asRoot) await chmod(work, 0o700);
    expect(run.code, run.stderr).toBe(1);
    expect(run.summary).toMatchObject({ converted: 1, failed: 4, hidden: 1 });
    expect(run.summary?.errors.sort((a, b) => a.file.localeCompare(b.file))).toEqual([
      { file: 'closed', reason: 'cannot read this folder' },
      { file: 'gone.jpg', reason: 'a link to nothing (a missing file or folder)' },
      { file: 'listed/y.jpg', reason: 'cannot read it (EACCES)' },
      { file: 'share', reason: 'a link to nothing (a missing file or folder)' },
    ]);
  });

  it('converts folders reached through links inside SOURCE, and counts hidden names and links leading out', async () => {
    const from = join(work, 'linked');
    const photo = await orientedPhoto();
    await put(from, 'nested/y.jpg', photo);
    await put(from, '.hidden.jpg', photo);
    await put(from, '.dir/x.jpg', photo);
    await symlink('nested', join(from, 'alias'));
    // A link to an enclosing folder is walked once, not forever.
    await symlink('..', join(from, 'nested', 'up'));
    await mkdir(join(work, 'elsewhere-dir'), { recursive: true });
    await symlink(join(work, 'elsewhere-dir'), join(from, 'out-dir'));
    const out = join(work, 'linked-out');
    const run = await prepare([from, out]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.summary).toMatchObject({ converted: 2, failed: 0, hidden: 2, linksOutside: 1 });
    expect((await readdir(out, { recursive: true })).filter((f) => f.endsWith('.jpg')).sort()).toEqual(['alias/y.jpg', 'nested/y.jpg']);
  });

  it('converts a folder under every link that leads to it, and still stops at links that loop', async () => {
    const from = join(work, 'two-links');
    await put(from, 'real/x.jpg', await sharp({ create: { width: 64, height: 64, channels: 3, background: RED } }).jpeg().toBuffer());
    // The server serves real/x.jpg, alias1/x.jpg and alias2/x.jpg: each must exist after the move.
    await symlink('real', join(from, 'alias1'));
    await symlink('real', join(from, 'alias2'));
    // Loops: to the folder itself, and to SOURCE, from inside the linked folder.
    await symlink('.', join(from, 'real', 'self'));
    await symlink('..', join(from, 'real', 'up'));
    const out = join(work, 'two-links-out');
    const run = await prepare([from, out]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.summary).toMatchObject({ files: 3, converted: 3, failed: 0 });
    expect((await readdir(out, { recursive: true })).filter((f) => f.endsWith('.jpg')).sort()).toEqual(['alias1/x.jpg', 'alias2/x.jpg', 'real/x.jpg']);
  });

  it('with stdout closed (`| true`) still converts, cleans up, and exits by the work, without a stack trace', async () => {
    const from = join(work, 'closed-stdout');
    await put(from, 'a.png', await sharp({ create: { width: 64, height: 64, channels: 3, background: RED } }).png().toBuffer());
    const out = join(work, 'closed-stdout-out');
    // Its own temp folder, to see that the scratch folder inside goes.
    const temp = join(work, 'closed-stdout-tmp');
    await mkdir(temp);
    const run = await runCliClosedStdout(['prepare', from, out], { TMPDIR: temp });
    expect(run.stderr).not.toMatch(/EPIPE|Unhandled|\n\s+at /);
    expect(run.code, run.stderr).toBe(0);
    expect(await readdir(out)).toEqual(['a.png']);
    // tsx (the bin's loader) keeps its cache there too.
    expect((await readdir(temp)).filter((f) => f.startsWith('iiif-edge-'))).toEqual([]);
  });

  it('skips, on the next run, an input whose modification time is in the future', async () => {
    const from = join(work, 'future');
    await put(from, 'a.png', await sharp({ create: { width: 64, height: 64, channels: 3, background: RED } }).png().toBuffer());
    const tomorrow = new Date(Date.now() + 86_400_000);
    await utimes(join(from, 'a.png'), tomorrow, tomorrow);
    const out = join(work, 'future-out');
    expect((await prepare([from, out])).summary).toMatchObject({ converted: 1 });
    expect((await prepare([from, out])).summary).toMatchObject({ converted: 0, skipped: 1 });
    // A change after that (a later time still) is converted again.
    const later = new Date(tomorrow.getTime() + 60_000);
    await utimes(join(from, 'a.png'), later, later);
    expect((await prepare([from, out])).summary).toMatchObject({ converted: 1, skipped: 0 });
  });

  it('removes the staging folder a killed run of this host left in DEST', async () => {
    const from = join(work, 'killed');
    await put(from, 'a.png', await sharp({ create: { width: 64, height: 64, channels: 3, background: RED } }).png().toBuffer());
    const out = join(work, 'killed-out');
    // A process id that no longer runs: a child that has exited.
    const dead = await new Promise<number>((ok) => {
      const child = execFileChild(process.execPath, ['-e', '']);
      child.once('exit', () => ok(child.pid ?? 0));
    });
    const left = join(out, `.iiif-edge-partial-${hostname()}-${dead}`);
    const older = join(out, `.iiif-edge-partial-${dead}`);
    const otherHost = join(out, `.iiif-edge-partial-another-host-${dead}`);
    for (const dir of [left, older, otherHost]) await put(dir, 'x.tif', 'half written');
    const run = await prepare([from, out]);
    expect(run.code, run.stderr).toBe(0);
    expect((await readdir(out)).sort()).toEqual(['.iiif-edge-partial-another-host-' + dead, 'a.png']);
  });
});

describe('iiif-edge prepare, S3 to S3 (s3rver)', { timeout: CLI_TIMEOUT_MS }, () => {
  let s3: LocalS3;
  let admin: S3Client;

  beforeAll(async () => {
    s3 = await startS3rver(['scans', 'tiles']);
    admin = s3rverClient(s3.endpoint);
    await putObject(admin, 'scans', 'masters/photo.jpg', await orientedPhoto());
    await putObject(admin, 'scans', 'masters/deep/blue.png', await sharp({ create: { width: 700, height: 300, channels: 3, background: BLUE } }).png().toBuffer());
    await putObject(admin, 'scans', 'masters/broken.tif', Buffer.from('II*\0 not really'));
    await putObject(admin, 'scans', 'elsewhere/other.jpg', await orientedPhoto());
  });

  afterAll(async () => {
    admin?.destroy();
    await s3?.close();
  });

  it('converts under the prefix, writes the geometry metadata, and the S3 source serves the result', async () => {
    const env = { IIIF_S3_ENDPOINT: s3.endpoint, IIIF_S3_FORCE_PATH_STYLE: 'true', IIIF_S3_REGION: 'us-east-1' };
    const run = await prepare(['s3://scans/masters', 's3://tiles/ready/', '--rename', '.jpg:.tif', '--rename', '.png:.tif'], env);
    expect(run.summary).toMatchObject({ files: 3, converted: 2, failed: 1 });
    expect(run.summary?.errors[0]?.file).toBe('broken.tif');
    const head = await admin.send(new HeadObjectCommand({ Bucket: 'tiles', Key: 'ready/photo.tif' }));
    expect(head.ContentType).toBe('image/tiff');
    // `levels`: the page sizes as the server's TIFF reader sees them, so info.json needs no read.
    // `sourcemodified`: the input's time, which the next run compares.
    expect(head.Metadata).toEqual({
      width: '900',
      height: '1200',
      tilewidth: '256',
      tileheight: '256',
      quality: '80',
      pages: '4',
      levels: expect.stringMatching(/^900x1200,450x600,225x300,11[23]x150$/),
      sourcemodified: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    const blue = await admin.send(new HeadObjectCommand({ Bucket: 'tiles', Key: 'ready/deep/blue.tif' }));
    // 700×300, 350×150, 175×75: the first level within one 256-px tile ends the pyramid.
    expect(blue.Metadata).toMatchObject({ width: '700', height: '300', pages: '3', levels: '700x300,350x150,175x75' });

    const again = await prepare(['s3://scans/masters', 's3://tiles/ready', '--rename', '.jpg:.tif', '--rename', '.png:.tif'], env);
    expect(again.summary).toMatchObject({ converted: 0, skipped: 2 });
    const retiled = await prepare(['s3://scans/masters', 's3://tiles/ready', '--rename', '.jpg:.tif', '--rename', '.png:.tif', '--tile-size', '512'], env);
    expect(retiled.summary).toMatchObject({ converted: 2, skipped: 0 });
    const back = await prepare(['s3://scans/masters', 's3://tiles/ready', '--rename', '.jpg:.tif', '--rename', '.png:.tif'], env);
    expect(back.summary).toMatchObject({ converted: 2, skipped: 0 });
    const requality = await prepare(['s3://scans/masters', 's3://tiles/ready', '--rename', '.jpg:.tif', '--rename', '.png:.tif', '--quality', '60'], env);
    expect(requality.summary).toMatchObject({ converted: 2, skipped: 0 });
    await prepare(['s3://scans/masters', 's3://tiles/ready', '--rename', '.jpg:.tif', '--rename', '.png:.tif'], env);

    const server = await startServer({ PORT: '0', IIIF_S3_BUCKET: 'tiles', IIIF_S3_PREFIX: 'ready/', IIIF_S3_KEY_TEMPLATE: '%s.tif', ...env });
    try {
      const info = (await (await fetch(`${server.url}/iiif/3/photo/info.json`)).json()) as Record<string, unknown>;
      expect(info).toMatchObject({ width: 900, height: 1200, tiles: [{ width: 256, height: 256, scaleFactors: [1, 2, 4, 8] }] });
      const tile = await fetch(`${server.url}/iiif/3/deep%2Fblue/full/350,150/0/default.jpg`);
      const { data } = await sharp(Buffer.from(await tile.arrayBuffer())).raw().toBuffer({ resolveWithObject: true });
      expect(data[2]).toBeGreaterThan(180);
    } finally {
      await server.close();
    }
  });

  it('skips, on the next run, an input whose modification time is in the future (S3 DEST)', async () => {
    const env = { IIIF_S3_ENDPOINT: s3.endpoint, IIIF_S3_FORCE_PATH_STYLE: 'true', IIIF_S3_REGION: 'us-east-1' };
    const from = join(work, 'future-s3');
    await put(from, 'a.png', await sharp({ create: { width: 64, height: 64, channels: 3, background: RED } }).png().toBuffer());
    const tomorrow = new Date(Date.now() + 86_400_000);
    await utimes(join(from, 'a.png'), tomorrow, tomorrow);
    expect((await prepare([from, 's3://tiles/future/'], env)).summary).toMatchObject({ converted: 1 });
    expect((await prepare([from, 's3://tiles/future/'], env)).summary).toMatchObject({ converted: 0, skipped: 1 });
    const later = new Date(tomorrow.getTime() + 60_000);
    await utimes(join(from, 'a.png'), later, later);
    expect((await prepare([from, 's3://tiles/future/'], env)).summary).toMatchObject({ converted: 1, skipped: 0 });
  });
});

/**
 * An S3 endpoint on loopback holding objects in memory, for keys s3rver cannot store (`a//b`: it keeps
 * objects as files, where `//` is `/`) and answers it never gives. Path-style ListObjectsV2, HEAD, GET, PUT.
 */
async function memoryS3(objects: Map<string, { body: Buffer; metadata: Record<string, string> }>, answer?: (req: IncomingMessage) => number | undefined) {
  const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://s3');
    const status = answer?.(req);
    if (status !== undefined) return void res.writeHead(status).end();
    // `/bucket/key`: the key is everything after the bucket, `//` kept.
    const raw = (req.url ?? '/').split('?')[0] ?? '/';
    const key = decodeURIComponent(raw.slice(raw.indexOf('/', 1) + 1));
    const bucket = decodeURIComponent(raw.slice(1).split('/')[0] ?? '');
    const full = `${bucket}/${key}`;
    if (req.method === 'GET' && url.searchParams.get('list-type') === '2') {
      const prefix = `${bucket}/${url.searchParams.get('prefix') ?? ''}`;
      const contents = [...objects]
        .filter(([k]) => k.startsWith(prefix))
        .map(([k, o]) => `<Contents><Key>${xml(k.slice(bucket.length + 1))}</Key><LastModified>2020-01-01T00:00:00.000Z</LastModified><Size>${o.body.length}</Size></Contents>`);
      res.writeHead(200, { 'Content-Type': 'application/xml' });
      return void res.end(`<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>${bucket}</Name><IsTruncated>false</IsTruncated>${contents.join('')}</ListBucketResult>`);
    }
    const found = objects.get(full);
    if (req.method === 'PUT') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const metadata = Object.fromEntries(Object.entries(req.headers).flatMap(([h, v]) => (h.startsWith('x-amz-meta-') ? [[h.slice(11), String(v)]] : [])));
        objects.set(full, { body: Buffer.concat(chunks), metadata });
        res.writeHead(200, { ETag: '"1"' }).end();
      });
      return;
    }
    if (!found) return void res.writeHead(404).end();
    const headers = {
      'Content-Length': String(found.body.length),
      'Last-Modified': 'Wed, 01 Jan 2020 00:00:00 GMT',
      ...Object.fromEntries(Object.entries(found.metadata).map(([k, v]) => [`x-amz-meta-${k}`, v])),
    };
    res.writeHead(200, headers).end(req.method === 'HEAD' ? undefined : found.body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const env = { IIIF_S3_ENDPOINT: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, IIIF_S3_FORCE_PATH_STYLE: 'true', IIIF_S3_REGION: 'us-east-1' };
  return {
    env,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}

describe('iiif-edge prepare, S3 keys no folder holds (in-memory S3)', { timeout: CLI_TIMEOUT_MS }, () => {
  it('writes a key with `//` as is to S3, fails only that input for a folder DEST, and keeps the usage error for a bad --key-template', async () => {
    const photo = await orientedPhoto();
    const objects = new Map<string, { body: Buffer; metadata: Record<string, string> }>();
    for (const key of ['masters/good.jpg', 'masters//double.jpg', 'masters/sub//x.jpg', 'masters/../up.jpg']) objects.set(`odd/${key}`, { body: photo, metadata: {} });
    const s3 = await memoryS3(objects);
    try {
      const toS3 = await prepare(['s3://odd/masters', 's3://odd/ready'], s3.env);
      expect(toS3.code, toS3.stderr).toBe(0);
      // `..` parts start with `.`: counted as hidden (the server refuses such identifiers), never written.
      expect(toS3.summary).toMatchObject({ files: 3, converted: 3, failed: 0, hidden: 1 });
      expect([...objects.keys()].filter((k) => k.startsWith('odd/ready/')).sort()).toEqual(['odd/ready//double.jpg', 'odd/ready/good.jpg', 'odd/ready/sub//x.jpg']);
      expect(objects.get('odd/ready//double.jpg')?.metadata).toMatchObject({ width: '900', height: '1200' });

      const out = join(work, 'odd-out');
      const toFolder = await prepare(['s3://odd/masters', out], s3.env);
      expect(toFolder.code, toFolder.stderr).toBe(1);
      expect(toFolder.summary).toMatchObject({ files: 3, converted: 1, failed: 2, hidden: 1 });
      expect(toFolder.summary?.errors.map((e) => e.file).sort()).toEqual(['/double.jpg', 'sub//x.jpg']);
      expect(toFolder.summary?.errors[0]?.reason).toMatch(/^not a file name in a folder: /);
      expect(await readdir(out)).toEqual(['good.jpg']);

      const climbing = await prepare(['s3://odd/masters', 's3://odd/ready', '--key-template', '../%s.tif'], s3.env);
      expect(climbing.code).toBe(2);
      expect(climbing.stderr.trim().split('\n')).toEqual(['iiif-edge: --rename or --key-template makes good.jpg into ../good.tif, which is not a name inside DEST']);
    } finally {
      await s3.close();
    }
  });

  it('names the S3 problem in one line: no permission, no region, no bucket', async () => {
    const from = join(work, 'to-s3-errors');
    await put(from, 'a.png', await sharp({ create: { width: 64, height: 64, channels: 3, background: RED } }).png().toBuffer());
    const forbidden = await memoryS3(new Map(), (req) => (req.method === 'HEAD' ? 403 : undefined));
    try {
      const run = await prepare([from, 's3://tiles/x'], forbidden.env);
      expect(run.code).toBe(1);
      expect(run.summary?.errors).toHaveLength(1);
      expect(run.summary?.errors[0]?.reason).toMatch(/^failed: access denied \(403\) to s3:\/\/tiles\/x\/a\.png: /);
    } finally {
      await forbidden.close();
    }
    // No region anywhere the SDK looks: a usage error naming the settings, before any work.
    const noRegion = { IIIF_S3_REGION: '', AWS_REGION: '', AWS_DEFAULT_REGION: '', AWS_PROFILE: '', AWS_CONFIG_FILE: join(work, 'no-aws-config'), AWS_SHARED_CREDENTIALS_FILE: join(work, 'no-aws-credentials') };
    const region = await runCli(['prepare', 's3://bucket', join(work, 'no-region-out')], noRegion);
    expect(region.code).toBe(2);
    expect(region.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^iiif-edge: .*IIIF_S3_REGION.*AWS_REGION/)]);
    for (const spec of ['s3://', 's3:///images']) {
      const bucketless = await runCli(['prepare', spec, join(work, 'no-bucket-out')]);
      expect(bucketless.code, spec).toBe(2);
      expect(bucketless.stderr.trim().split('\n'), spec).toEqual([`iiif-edge: the S3 location ${spec} needs a bucket: s3://bucket/prefix`]);
    }
  });
});

describe('JPEG 2000 input', () => {
  it('is assembled band by band into exactly the source pixels', async () => {
    const file = join(work, 'src', 'scan.jp2');
    const header = await readJp2Header(file);
    expect(header).toEqual({ ...SCAN, channels: 3 });
    const strips = join(work, 'scan-strips.tif');
    await jp2Strips(sharp, file, header, strips);
    const { data, info } = await sharp(strips).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([SCAN.width, SCAN.height, 3]);
    expect(data.equals(Buffer.from(scanPixels()))).toBe(true);
  });

  it('with a palette: the mapped colours (alpha flattened on white), not the one index component', async () => {
    for (const columns of [3, 4] as const) {
      const { jp2, png } = await makePaletteJp2(300, 200, columns, { lossless: true, levels: 2 });
      const file = join(work, `palette-${columns}.jp2`);
      await writeFile(file, jp2);
      const header = await readJp2Header(file);
      expect(header).toEqual({ width: 300, height: 200, channels: columns });
      const strips = join(work, `palette-${columns}-strips.tif`);
      await jp2Strips(sharp, file, header, strips);
      const [ours, ref] = await Promise.all([sharp(strips), sharp(png).flatten({ background: '#ffffff' })].map((image) => image.raw().toBuffer({ resolveWithObject: true })));
      expect(ours!.info.channels, `${columns} columns`).toBe(3);
      expect(ours!.data.equals(ref!.data), `${columns} columns`).toBe(true);
    }
  });
});
