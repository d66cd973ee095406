/**
 * Property-based checks of IIIF URL syntax handling with hostile input: random and mutated
 * paths (percent-encoding tricks, overlong numbers, exponents, signs, unicode, control
 * characters, oversized segments) only ever yield a result or a 4xx/501 HttpError with a
 * safe message, both in the parser and through the whole app. `FUZZ_RUNS`/`FUZZ_SEED` scale and replay.
 */
import fc from 'fast-check';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { loadConfig } from '../../src/config.ts';
import { isHttpError } from '../../src/errors.ts';
import { splitIiifPath } from '../../src/iiif/path.ts';
import { parseImageRequest } from '../../src/iiif/request.ts';
import type { IiifVersion } from '../../src/iiif/types.ts';
import type { ImageSource } from '../../src/sources/source.ts';

const RUNS = Number(process.env.FUZZ_RUNS) || 20_000;
const SEED = Number(process.env.FUZZ_SEED) || 20_240_605;
const params = (runs: number): fc.Parameters<unknown> => ({ numRuns: runs, seed: SEED });

const VALID = ['full', 'square', 'max', '^max', '0', '!90', '22.5', 'default.jpg', 'gray.png', 'info.json', 'a.png'];
const HOSTILE = [
  '1e9', '1E3', 'NaN', 'Infinity', '-0', '-1', '+1', '0x1F', '0b1', ' 1', '1 ', '1,', ',', ',,,', '!', '^', '^^max', '!!0',
  'pct:', 'pct:-0,0,1,1', 'pct:1e2,0,1,1', '1.', '.', '..', '%2e%2e', '%2E%2e%2F', '%252e%252e', '%', '%2', '%zz', '%00',
  '%0d%0aSet-Cookie:%20x=1', '%0A', '\u0000', '\r\n', '"', "'", '<', '>', '\\', '..\\..', '%5c', '%2Fetc%2Fpasswd', '/etc/passwd',
  '%C0%AE%C0%AE', '%ED%A0%80', '%EF%BF%BD', '\u202e', '１', '٣', '💥', 'default.jpg.png', '.jpg', 'default.', 'jp2', 'pdf',
  'default.jp2', 'default.pdf', '9'.repeat(10), '9'.repeat(400), '0'.repeat(30) + '1', `${'1'.repeat(9)}.${'5'.repeat(25)}`,
];

const segment = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...VALID, ...HOSTILE) },
  { weight: 2, arbitrary: fc.stringMatching(/^[\^!]?(pct:)?[0-9.,]{0,24}$/) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }) },
  { weight: 1, arbitrary: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 12 }).map((b) => b.map((x) => `%${x.toString(16).padStart(2, '0')}`).join('')) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('a', '9', '%41', ','), fc.integer({ min: 1000, max: 30_000 })).map(([s, n]) => s.repeat(n / s.length)) },
);
/** Mostly well-formed image/info paths with hostile segments mixed in, plus arbitrary segment lists. */
const path = fc.oneof(
  fc.tuple(segment, segment, segment, segment, segment).map((s) => s.join('/')),
  fc.tuple(segment, segment).map(([id, last]) => `${id}/${last}`),
  fc.array(segment, { minLength: 1, maxLength: 8 }).map((s) => s.join('/')),
  fc.string({ unit: 'binary', maxLength: 80 }),
);

function expectSafeRefusal(e: unknown): void {
  if (!isHttpError(e)) throw e;
  expect([400, 404, 501], `${e.status} ${e.message}`).toContain(e.status);
  expect(e.message).not.toMatch(/\p{Cc}/u);
  expect(e.message.length).toBeLessThan(300);
}

describe.each([3, 2] as const)('IIIF %i URL syntax, property-based', (version: IiifVersion) => {
  it('split + parse never throws anything but a 4xx/501 HttpError with a safe message', () => {
    fc.assert(
      fc.property(path, (rest) => {
        try {
          const target = splitIiifPath(rest, { version });
          if (target.kind === 'image') parseImageRequest(version, target.params);
          expect(target.identifier.length).toBeGreaterThan(0);
          expect(target.identifier).not.toMatch(/\p{Cc}|\\|^\/|(^|\/)\.\.?(\/|$)/u);
        } catch (e) {
          expectSafeRefusal(e);
        }
      }),
      params(RUNS),
    );
  });

  it('percent-encoding any character inside a segment changes nothing', () => {
    const valid = fc.tuple(
      fc.stringMatching(/^[A-Za-z0-9_-]{1,12}\.(png|tif)$/),
      fc.constantFrom('full', 'square', '10,20,30,40', 'pct:1.5,2,50,60'),
      fc.constantFrom(...(version === 3 ? ['max', '^max', '100,', ',80', '^pct:150', '!50,50'] : ['full', 'max', '100,', 'pct:50', '50,60'])),
      fc.constantFrom('0', '!90', '22.5', '!0'),
      fc.constantFrom('default.jpg', 'gray.png', 'bitonal.webp', 'color.tif'),
    );
    const encodeSome = (s: string, picks: boolean[]) =>
      [...s].map((ch, i) => (picks[i % picks.length] ? `%${ch.charCodeAt(0).toString(16).toUpperCase()}` : ch)).join('');
    fc.assert(
      fc.property(valid, fc.array(fc.boolean(), { minLength: 1, maxLength: 16 }), (segments, picks) => {
        const plain = splitIiifPath(segments.join('/'), { version });
        // The last dot of quality.format stays literal so the segment still splits the same way.
        const mutated = segments.map((s, i) => (i === 4 ? s.split('.').map((p) => encodeSome(p, picks)).join('.') : encodeSome(s, picks)));
        expect(splitIiifPath(mutated.join('/'), { version })).toEqual(plain);
      }),
      params(Math.ceil(RUNS / 4)),
    );
  });
});

describe('the whole app on hostile paths (in-memory source, stub renderer)', () => {
  let app: ReturnType<typeof createApp>;
  beforeAll(async () => {
    const png = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#808080' } }).png().toBuffer();
    const source: ImageSource = {
      kind: 'memory',
      stat: async () => ({ etag: 'e1', size: png.length }),
      read: async (_id, range) => (range ? png.subarray(range.offset, range.offset + range.length) : png),
    };
    const renderer = { render: async () => ({ body: new Uint8Array(1), readMs: 0 }) };
    app = createApp({ config: loadConfig({}), source, renderer, logger: silentLogger });
  });

  it.each([3, 2])('answers every path under /iiif/%i with a 2xx/3xx/304 or a JSON 4xx/501, headers intact', async (version) => {
    await fc.assert(
      fc.asyncProperty(path, async (rest) => {
        let request: Request;
        try {
          request = new Request(`http://127.0.0.1/iiif/${version}/${rest}`);
        } catch {
          return; // Not a URL any client could send.
        }
        const res = await app.fetch(request);
        const body = await res.text();
        expect(res.status === 501 || res.status < 500, `${res.status} ${body}`).toBe(true);
        expect(res.headers.get('access-control-allow-origin')).toBe('*');
        expect(res.headers.get('x-content-type-options')).toBe('nosniff');
        for (const name of ['location', 'link']) expect(res.headers.get(name) ?? '').toMatch(/^[\x21-\x7e ]*$/);
        if (res.status >= 400) {
          const error = JSON.parse(body) as { status: number; error: string; message: string };
          expect(error.status).toBe(res.status);
          expect(error.message).not.toMatch(/\/work|\/tmp|node_modules|Error:/);
          // The router's catch-all 404 still echoes the decoded path (JSON-escaped, so harmless).
          if (error.message.startsWith('no route for')) return;
          expect(error.message).not.toMatch(/\p{Cc}/u);
        }
      }),
      params(Math.ceil(RUNS / 8)),
    );
  });
});
