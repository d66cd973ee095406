/**
 * Filesystem faults under the fs source, over real HTTP: unreadable files, files that vanish
 * or shrink between stat and read, directories and symlink loops as identifiers, and
 * simulated EMFILE/EIO. Every answer is a clean JSON error that names no path.
 */
import { serve } from '@hono/node-server';
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApp } from '../../src/app.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { loadConfig } from '../../src/config.ts';
import { sharpRenderer } from '../../src/renderers/sharp-renderer.ts';
import type { ImageSource } from '../../src/sources/source.ts';
import { fsSource } from '../../src/sources/fs-source.ts';

/** File name → errno code that the next stat/open of that file fails with. */
const faults = vi.hoisted(() => ({ stat: new Map<string, string>(), open: new Map<string, string>() }));

vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  const check = (table: Map<string, string>, path: unknown) => {
    const code = table.get(basename(String(path)));
    if (code) throw Object.assign(new Error(`${code}: simulated fault`), { code });
  };
  return {
    ...fs,
    stat: async (...args: Parameters<typeof fs.stat>) => (check(faults.stat, args[0]), fs.stat(...args)),
    open: async (...args: Parameters<typeof fs.open>) => (check(faults.open, args[0]), fs.open(...args)),
  };
});

const REQUEST_TIMEOUT_MS = 3_000;
let root: string;
let url: string;
let server: Server;
const afterStat = new Map<string, (path: string) => Promise<void>>();

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'iiif-edge-faults-'));
  const png = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#884422' } }).png().toBuffer();
  for (const name of ['ok.png', 'vanish.png', 'vanish-late.png', 'shrink.png', 'emfile.png', 'eio.png', 'locked.png']) {
    await writeFile(join(root, name), png);
  }
  await mkdir(join(root, 'dir.png'));
  await writeFile(join(root, 'dir.png', 'inner.png'), png);
  await symlink('loop-b.png', join(root, 'loop-a.png'));
  await symlink('loop-a.png', join(root, 'loop-b.png'));
  // Runs a fault right after the source's stat, i.e. between stat and read.
  const fs = fsSource({ root });
  const source: ImageSource = {
    ...fs,
    async stat(identifier, signal) {
      const object = await fs.stat(identifier, signal);
      await afterStat.get(identifier)?.(join(root, identifier));
      return object;
    },
  };
  const config = loadConfig({ IIIF_ROOT: root, IIIF_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS) });
  const renderer = sharpRenderer({ jpegQuality: 85, maxInputPixels: config.IIIF_MAX_INPUT_PIXELS });
  const app = createApp({ config, source, renderer, logger: silentLogger });
  server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
  await new Promise((ok) => server.once('listening', ok));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((ok) => server?.close(ok));
  await rm(root, { recursive: true, force: true });
});

async function clean(path: string, base = url) {
  const res = await fetch(`${base}${path}`);
  const text = await res.text();
  if (res.status >= 400) {
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(text).not.toContain(root);
    expect(text).not.toMatch(/\/tmp|\/work|simulated|E[A-Z]{3,}|Error:/);
  }
  return { status: res.status, headers: res.headers, json: res.status >= 400 ? (JSON.parse(text) as { error: string }) : undefined };
}

describe('filesystem faults', () => {
  it('a file deleted between stat and read is a 404', async () => {
    afterStat.set('vanish.png', (path) => rm(path));
    expect((await clean('/iiif/3/vanish.png/info.json')).status).toBe(404);
    // Geometry already cached: the render itself finds the file gone.
    expect((await clean('/iiif/3/vanish-late.png/info.json')).status).toBe(200);
    afterStat.set('vanish-late.png', (path) => rm(path));
    const late = await clean('/iiif/3/vanish-late.png/full/max/0/default.png');
    expect([404, 500]).toContain(late.status);
  });

  it('a file truncated between stat and read ends in a clean error within the request timeout', async () => {
    afterStat.set('shrink.png', (path) => truncate(path, 20));
    const started = performance.now();
    const r = await clean('/iiif/3/shrink.png/info.json');
    // The read sees a file other than the one stat described (and again on the one retry): try again later.
    expect([r.status, r.headers.get('retry-after')]).toEqual([503, '1']);
    expect(performance.now() - started).toBeLessThan(REQUEST_TIMEOUT_MS);
    afterStat.delete('shrink.png');
    await rm(join(root, 'shrink.png'));
  });

  it('directories and symlink loops are not images', async () => {
    for (const id of ['dir.png', 'dir.png%2Finner.png%2Fx', 'ok.png%2Fx', 'loop-a.png']) {
      for (const tail of ['info.json', 'full/max/0/default.jpg']) {
        const r = await clean(`/iiif/3/${id}/${tail}`);
        expect(r.status, `${id}/${tail}`).toBe(404);
      }
    }
    expect((await clean('/iiif/3/dir.png%2Finner.png/info.json')).status).toBe(200);
    expect((await clean(`/iiif/3/${'n'.repeat(300)}.png/info.json`)).status).toBe(404);
  });

  it('EMFILE is a 503 with Retry-After; EIO is a 502; the file serves again once the fault clears', async () => {
    faults.stat.set('emfile.png', 'EMFILE');
    const busy = await clean('/iiif/3/emfile.png/info.json');
    expect([busy.status, busy.headers.get('retry-after')]).toEqual([503, '1']);
    faults.stat.delete('emfile.png');
    faults.open.set('eio.png', 'EIO');
    expect((await clean('/iiif/3/eio.png/info.json')).status).toBe(502);
    faults.open.delete('eio.png');
    for (const id of ['emfile.png', 'eio.png']) expect((await clean(`/iiif/3/${id}/full/max/0/default.png`)).status).toBe(200);
  });
});

const isRoot = process.getuid?.() === 0;

describe('unreadable files (chmod 000)', () => {
  // Root reads any file whatever its mode; the server then runs as `nobody` in a child process.
  it(`is a 403${isRoot ? ' (server run as uid 65534, since the tests run as root)' : ''}`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'iiif-edge-locked-'));
    await chmod(dir, 0o755);
    await writeFile(join(dir, 'locked.png'), await sharp({ create: { width: 8, height: 8, channels: 3, background: '#000' } }).png().toBuffer());
    await chmod(join(dir, 'locked.png'), 0o000);
    const child = spawn(process.execPath, ['--import', 'tsx', 'adapters/node/main.ts'], {
      cwd: new URL('../../', import.meta.url).pathname,
      env: { ...process.env, IIIF_ROOT: dir, PORT: '0', HOST: '127.0.0.1', HOME: dir },
      stdio: ['ignore', 'pipe', 'inherit'],
      ...(isRoot ? { uid: 65534, gid: 65534 } : {}),
    });
    try {
      const line = await new Promise<string>((ok, fail) => {
        child.once('exit', (code) => fail(new Error(`server exited with ${code}`)));
        createInterface({ input: child.stdout! }).once('line', ok);
      });
      const base = /listening on (http:\/\/\S+)/.exec(line)?.[1] ?? '';
      for (const tail of ['info.json', 'full/max/0/default.png']) {
        const r = await clean(`/iiif/3/locked.png/${tail}`, base);
        expect([r.status, r.json?.error]).toEqual([403, 'forbidden']);
      }
    } finally {
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
});
