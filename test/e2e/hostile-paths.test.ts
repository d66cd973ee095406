/**
 * Traversal and injection through the Node adapter, with request lines sent byte for byte
 * over a raw socket (fetch would normalise `..`, `%2e%2e` and `\` before sending). A real
 * image sits just outside the served root, so any escape would show as a 200.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../adapters/node/server.ts';

let server: RunningServer;
let base: string;
let root: string;

const WEIRD = `we"ird <x>;rel=y, 'z'.png`;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'iiif-edge-paths-'));
  root = join(base, 'images');
  const png = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#336699' } }).png().toBuffer();
  await mkdir(join(root, 'sub'), { recursive: true });
  await mkdir(join(base, 'images-secret'), { recursive: true });
  for (const name of ['a.png', 'sub/b.png', WEIRD, 'é.png']) await writeFile(join(root, name), png);
  for (const name of ['secret.png', 'images-secret/x.png']) await writeFile(join(base, name), png);
  server = await startServer({ IIIF_ROOT: root, PORT: '0', HOST: '127.0.0.1' });
});

afterAll(async () => {
  await server?.close();
  await rm(base, { recursive: true, force: true });
});

interface Raw {
  status: number;
  headers: Map<string, string>;
  head: string;
  body: string;
}

/** Sends `GET {target}` exactly as given and reads the whole (Connection: close) response. */
function rawGet(target: string, host = '127.0.0.1'): Promise<Raw> {
  const { port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error(`timeout on ${target.slice(0, 80)}`)));
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const head = split < 0 ? text : text.slice(0, split);
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers = new Map<string, string>();
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, head, body: split < 0 ? '' : text.slice(split + 4) });
    });
    socket.write(Buffer.from(`GET ${target} HTTP/1.1\r\nHost: ${host}\r\nOrigin: https://viewer.example\r\nConnection: close\r\n\r\n`, 'latin1'));
  });
}

/** 400 or 404, or a redirect (a base URI, or `.` segments the URL parser removed) to a refused info.json. */
async function expectRefused(r: Raw, target: string): Promise<void> {
  expect([303, 400, 404], `${r.status} for ${target}: ${r.body.slice(0, 200)}`).toContain(r.status);
  if (r.status === 303) {
    const location = r.headers.get('location') ?? '';
    expect(location).toMatch(/^http:\/\/127\.0\.0\.1\/iiif\/\d\/[^<>"\s\\]+\/info\.json$/);
    const next = await rawGet(new URL(location).pathname);
    expect([400, 404], `${location} after ${target}`).toContain(next.status);
  }
  expect(r.body).not.toContain(base);
  expect(r.body).not.toMatch(/\/tmp\/|\/work\/|node_modules|Error:/);
  expect(r.headers.has('set-cookie')).toBe(false);
}

const ESCAPES = [
  '../secret.png',
  '..%2Fsecret.png',
  '%2e%2e%2Fsecret.png',
  '%2E%2E%2fsecret.png',
  '%2e%2e/secret.png',
  '.%2e%2Fsecret.png',
  '%252e%252e%252Fsecret.png',
  '..%252Fsecret.png',
  '..%5Csecret.png',
  '..\\secret.png',
  '%5C..%5Csecret.png',
  'sub%2F..%2F..%2Fsecret.png',
  '..%2Fimages-secret%2Fx.png',
  '..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd',
  '%2Fetc%2Fpasswd',
  '%2F%2Fetc%2Fpasswd',
  'file:%2F%2F%2Fetc%2Fpasswd',
  'C:%5CWindows%5Cwin.ini',
  'a.png%00',
  'a.png%00.txt',
  '%00..%2Fsecret.png',
  '%C0%AE%C0%AE%2Fsecret.png',
  '%E0%80%AE%E0%80%AE%2Fsecret.png',
  '....%2F%2Fsecret.png',
  'sub%2F.%2F..%2F..%2Fsecret.png',
  'sub',
  '.',
  '%2e',
];

describe('identifiers that try to leave the root', () => {
  it.each(ESCAPES)('%s is refused with 400 or 404 on every route, and no path is shown', async (id) => {
    for (const version of [3, 2]) {
      for (const tail of ['/info.json', '/full/max/0/default.png', '']) {
        const target = `/iiif/${version}/${id}${tail}`;
        const res = await rawGet(target);
        // The URL standard resolves a last `.` or `%2e` segment to the folder itself: `/iiif/3/`,
        // the version ping, which shows no path either.
        if (tail === '' && (id === '.' || id === '%2e')) expect(JSON.parse(res.body)).toEqual({ status: 'ok', version });
        else await expectRefused(res, target);
      }
    }
  });

  it('serves the legitimate images, so the refusals above are not a broken server', async () => {
    for (const id of ['a.png', 'sub%2Fb.png', '%C3%A9.png']) {
      expect((await rawGet(`/iiif/3/${id}/full/max/0/default.png`)).status, id).toBe(200);
    }
  });
});

describe('injection through identifiers echoed in headers', () => {
  it.each([
    'a%0D%0ASet-Cookie:%20x=1',
    'a%0ASet-Cookie:%20x=1.png',
    'a%0D%0A%0D%0A%3Chtml%3E',
    '%0D%0ALocation:%20http:%2F%2Fevil.example',
  ])('CR/LF %s never splits a header', async (id) => {
    for (const tail of ['', '/info.json', '/full/max/0/default.png']) {
      const r = await rawGet(`/iiif/3/${id}${tail}`);
      await expectRefused(r, id);
      expect(r.headers.has('location') ? r.headers.get('location') : '').not.toMatch(/evil|[\r\n]/);
    }
  });

  it('raw CR/LF or spaces in the request line end the target; nothing is echoed as a header', async () => {
    const split = await rawGet('/iiif/3/a\r\nSet-Cookie: x=1/info.json');
    expect(split.head).not.toMatch(/set-cookie/i);
    expect((await rawGet('/iiif/3/a b.png/info.json')).status).toBe(400);
  });

  it('quotes, angle brackets, commas and semicolons stay percent-encoded in Link and Location', async () => {
    const id = encodeURIComponent(WEIRD);
    const image = await rawGet(`/iiif/3/${id}/full/max/0/default.png`);
    expect(image.status).toBe(200);
    const link = image.headers.get('link') ?? '';
    expect(link.split(', <')).toHaveLength(2);
    expect(link).toContain(`/iiif/3/${id}/full/max/0/default.png>;rel="canonical"`);
    expect(link).toMatch(/^<[^<>"\s]+>;rel="canonical", <[^<>"\s]+>;rel="profile"$/);
    const redirect = await rawGet(`/iiif/3/${id}`);
    expect(redirect.status).toBe(303);
    expect(redirect.headers.get('location')).toMatch(/^[^<>"\s]+\/info\.json$/);
    // A raw quote in the request line arrives percent-encoded too.
    const rawQuote = await rawGet('/iiif/3/a"b<c>');
    expect(rawQuote.headers.get('location') ?? '').not.toMatch(/["<>]/);
  });

  it('non-ASCII identifiers are served or refused, never a broken header', async () => {
    // Raw UTF-8 in the request line is refused by Node's HTTP parser; encoded, it is served.
    expect((await rawGet(Buffer.from('/iiif/3/é.png/info.json', 'utf8').toString('latin1'))).status).toBe(400);
    const encoded = await rawGet('/iiif/3/%C3%A9.png/full/max/0/default.png');
    expect(encoded.status).toBe(200);
    expect(encoded.headers.get('link')).toContain('/iiif/3/%C3%A9.png/');
    expect((await rawGet('/iiif/3/%F0%9F%92%A5')).status).toBe(303);
  });
});

describe('overlong URLs', () => {
  it('a 15 KB identifier or parameter reaches the app and gets a 400', async () => {
    for (const target of [`/iiif/3/${'a'.repeat(15_000)}/info.json`, `/iiif/3/a.png/${'1,'.repeat(7_000)}1/max/0/default.png`]) {
      const r = await rawGet(target);
      expect(r.status).toBe(400);
      expect(r.body.length).toBeLessThan(400);
    }
    expect((await rawGet(`/iiif/3/a.png${'/x'.repeat(5_000)}/full/max/0/default.png`)).status).toBe(404);
  });

  it('a 20 KB URL is refused by the HTTP server itself (431), and it keeps serving', async () => {
    const r = await rawGet(`/iiif/3/${'%41'.repeat(7_000)}/info.json`);
    expect(r.status).toBe(431);
    expect((await rawGet('/iiif/3/a.png/info.json')).status).toBe(200);
  });

  it('a Host header no URL can hold is a JSON 400 like any refused host, not a bare one', async () => {
    for (const host of ['evil.com/x', 'evil.com:99999', 'a b']) {
      for (const path of ['/iiif/3/a.png/info.json', '/iiif/3/a.png/full/max/0/default.png']) {
        const r = await rawGet(path, host);
        expect(r.status, `${host} ${path}`).toBe(400);
        expect(r.headers.get('content-type')).toMatch(/^application\/json/);
        expect(r.headers.get('cache-control')).toBe('no-store');
        expect(r.headers.get('access-control-allow-origin')).toBe('*');
        expect(JSON.parse(r.body)).toMatchObject({ status: 400, error: 'bad_request' });
      }
    }
  });
});
