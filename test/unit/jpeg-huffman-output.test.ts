import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { type Env, loadConfig } from '../../src/config.ts';
import { sharpRendererFromConfig } from '../../src/renderers/sharp-renderer.ts';
import { fsSource } from '../../src/sources/fs-source.ts';
import { makeFixtures } from '../fixtures/images.ts';
import { pdfPage } from '../helpers/output-image.ts';

// ITU-T T.81 Annex K.3: the typical tables' code counts per length (BITS), luminance DC and AC.
const K3_DC_LUMA = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
const K3_AC_LUMA = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d];

/** Each DHT table in a JPEG as "class/id" → its 16 code counts. */
function huffmanCounts(jpeg: Uint8Array): Map<string, number[]> {
  const tables = new Map<string, number[]>();
  for (let pos = 2; pos + 4 <= jpeg.length && jpeg[pos] === 0xff; ) {
    const marker = jpeg[pos + 1]!;
    const length = (jpeg[pos + 2]! << 8) | jpeg[pos + 3]!;
    if (marker === 0xda) break;
    if (marker === 0xc4) {
      for (let at = pos + 4; at < pos + 2 + length; ) {
        const counts = [...jpeg.subarray(at + 1, at + 17)];
        tables.set(`${jpeg[at]! >> 4}/${jpeg[at]! & 15}`, counts);
        at += 17 + counts.reduce((a, b) => a + b, 0);
      }
    }
    pos += 2 + length;
  }
  return tables;
}

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'iiif-edge-huffman-'));
  await writeFile(join(root, 'grid.png'), (await makeFixtures())['grid.png']!);
});
afterAll(() => rm(root, { recursive: true, force: true }));

async function get(path: string, env: Env = {}) {
  const config = loadConfig({ IIIF_ROOT: root, ...env });
  const res = await createApp({ config, source: fsSource({ root }), renderer: sharpRendererFromConfig(config) }).request(path);
  return { res, body: new Uint8Array(await res.arrayBuffer()) };
}

describe('Huffman coding of rendered JPEGs (IIIF_JPEG_OPTIMIZE_CODING)', () => {
  const path = '/iiif/3/grid.png/full/max/0/default.jpg';

  it("by default uses the standard tables of Annex K (one pass), libjpeg's and libvips' own default", async () => {
    const { res, body } = await get(path);
    expect(res.status).toBe(200);
    const tables = huffmanCounts(body);
    expect(tables.get('0/0')).toEqual(K3_DC_LUMA);
    expect(tables.get('1/0')).toEqual(K3_AC_LUMA);
    // The JPEG inside a pdf too.
    const page = await pdfPage((await get(path.replace('.jpg', '.pdf'))).body);
    expect(huffmanCounts(page.jpeg).get('1/0')).toEqual(K3_AC_LUMA);
  });

  it('optimised per image when turned on: other tables, fewer bytes, the same pixels, another ETag', async () => {
    const standard = await get(path);
    const optimised = await get(path, { IIIF_JPEG_OPTIMIZE_CODING: 'true' });
    expect(huffmanCounts(optimised.body).get('1/0')).not.toEqual(K3_AC_LUMA);
    expect(optimised.body.length).toBeLessThan(standard.body.length);
    const [a, b] = await Promise.all([standard.body, optimised.body].map((j) => sharp(j).raw().toBuffer()));
    expect(Buffer.compare(a!, b!)).toBe(0);
    expect(optimised.res.headers.get('etag')).not.toBe(standard.res.headers.get('etag'));
  });
});
