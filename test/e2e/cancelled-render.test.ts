/**
 * A render whose clients have all left stops at the next stage (after the source read, before the
 * encode), so the slot it holds goes to the next request instead of to pixels nobody will get.
 * Identical requests share one render, which one of them leaving does not stop.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { noMetrics } from '../../src/metrics.ts';
import { sharpRenderer } from '../../src/renderers/sharp-renderer.ts';
import { fsSource } from '../../src/sources/fs-source.ts';
import type { Renderer } from '../../src/renderers/renderer.ts';
import type { ImageSource } from '../../src/sources/source.ts';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'iiif-edge-cancel-'));
  const noise = sharp({ create: { width: 3000, height: 2500, channels: 3, background: '#888', noise: { type: 'gaussian', mean: 128, sigma: 50 } } });
  await writeFile(join(root, 'heavy.png'), await noise.png({ compressionLevel: 1 }).toBuffer());
  await writeFile(join(root, 'small.png'), await sharp({ create: { width: 64, height: 64, channels: 3, background: '#c33' } }).png().toBuffer());
}, 60_000);
afterAll(() => rm(root, { recursive: true, force: true }));

const READ_DELAY_MS = 400;

/** One render slot; reads of heavy.png take READ_DELAY_MS, like a slow store. Counts renders. */
function build() {
  const counts = { renders: 0 };
  const servedBy: string[] = [];
  const inner = fsSource({ root });
  const source: ImageSource = {
    kind: inner.kind,
    local: true,
    stat: (id, signal) => inner.stat(id, signal),
    read: async (id, range, signal) => {
      if (id === 'heavy.png' && !range) await new Promise((ok) => setTimeout(ok, READ_DELAY_MS));
      return inner.read(id, range);
    },
  };
  const sharpOne = sharpRenderer({ jpegQuality: 85, maxInputPixels: 1e9 });
  const renderer: Renderer = {
    render: (input, plan) => {
      counts.renders++;
      return sharpOne.render(input, plan);
    },
  };
  const metrics = { ...noMetrics, request: (r: { servedBy: string }) => void servedBy.push(r.servedBy) };
  const app = createApp({ config: loadConfig({ IIIF_ROOT: root, IIIF_MAX_CONCURRENT_RENDERS: '1', IIIF_RESPONSE_CACHE_BYTES: '0' }), source, renderer, metrics });
  return Object.assign(app, { counts, servedBy });
}

const HEAVY = '/iiif/3/heavy.png/full/max/0/default.webp';

/**
 * Asks for `url` and leaves 50 ms after its render started, while its source is still read
 * (a fixed delay from the request left before the render started on a loaded machine):
 * `left` once gone, `done` when its request ends.
 */
function askThenLeave(app: ReturnType<typeof build>, url: string) {
  const gone = new AbortController();
  const before = app.counts.renders;
  const done = Promise.resolve(app.request(url, { signal: gone.signal })).then((r) => r.status, () => 'aborted');
  const left = (async () => {
    while (app.counts.renders === before) await new Promise((ok) => setTimeout(ok, 5));
    await new Promise((ok) => setTimeout(ok, 50));
    gone.abort();
  })();
  return { left, done };
}

describe('a render whose client left', () => {
  it('gives its slot to the next request once its source is read, instead of encoding', async () => {
    const app = build();
    // What the heavy render costs when someone waits for it.
    let started = performance.now();
    expect((await app.request(HEAVY)).status).toBe(200);
    const heavyMs = performance.now() - started;
    expect(heavyMs).toBeGreaterThan(READ_DELAY_MS * 2);

    // Its client leaves while the source is read; the next request waits for the slot.
    const leaving = askThenLeave(app, HEAVY);
    await leaving.left;
    started = performance.now();
    const next = await app.request('/iiif/3/small.png/full/32,/0/default.png');
    const nextMs = performance.now() - started;
    expect(next.status).toBe(200);
    await leaving.done;
    // The slot came free after the read, not after the encode.
    expect(nextMs, `heavy render ${Math.round(heavyMs)} ms, next request ${Math.round(nextMs)} ms`).toBeLessThan(READ_DELAY_MS + (heavyMs - READ_DELAY_MS) / 2);
  }, 60_000);

  it('is shared by identical requests, and one of them leaving does not stop it for the others', async () => {
    const app = build();
    const url = '/iiif/3/heavy.png/full/600,/0/default.png';
    // The others ask once the first one's render is under way (its read takes READ_DELAY_MS), so
    // that they join it whatever the machine's load; the first leaves while they wait.
    const gone = new AbortController();
    const firstDone = Promise.resolve(app.request(url, { signal: gone.signal })).catch(() => 'aborted');
    for (let waited = 0; app.counts.renders === 0 && waited < 5000; waited += 5) await new Promise((ok) => setTimeout(ok, 5));
    expect(app.counts.renders).toBe(1);
    const others = [0, 1, 2].map(() => Promise.resolve(app.request(url)));
    await new Promise((ok) => setTimeout(ok, READ_DELAY_MS / 2));
    gone.abort();
    const answers = await Promise.all(others);
    await firstDone;
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(app.counts.renders).toBe(1);
    const bodies = await Promise.all(answers.map(async (r) => Buffer.from(await r.arrayBuffer())));
    expect(await sharp(bodies[0]).metadata()).toMatchObject({ width: 600, height: 500 });
    expect(bodies.every((b) => b.equals(bodies[0]!))).toBe(true);
    expect(answers.filter((r) => /shared;dur=/.test(r.headers.get('server-timing') ?? ''))).toHaveLength(3);
    // Logged and counted as shared answers, not as three more renders.
    expect(app.servedBy.filter((s) => s === 'shared')).toHaveLength(3);
    // Done, it is not shared with a later request.
    expect((await app.request(url)).status).toBe(200);
    expect(app.counts.renders).toBe(2);
  }, 60_000);

  it('once every request for it has left, a new identical request renders afresh instead of joining the stopped render', async () => {
    const app = build();
    const url = '/iiif/3/heavy.png/full/700,/0/default.png';
    const leaving = askThenLeave(app, url);
    await leaving.left;
    // Arrives while the stopped render is still reading its source.
    const late = await app.request(url);
    await leaving.done;
    expect(late.status, await late.clone().text().catch(() => '')).toBe(200);
    expect(await sharp(Buffer.from(await late.arrayBuffer())).metadata()).toMatchObject({ width: 700 });
    expect(app.counts.renders).toBe(2);
  }, 60_000);
});
