/**
 * Regenerates the bundled sample images (all synthetic, so no licence questions):
 *   npx tsx adapters/node/make-samples.ts
 */
import { mkdir } from 'node:fs/promises';
import sharp from 'sharp';
const SAMPLES_DIR = new URL('./samples/', import.meta.url).pathname;

function pattern(width: number, height: number, hue: number): Buffer {
  const rings = Array.from({ length: 40 }, (_, i) => {
    const r = ((i + 1) * Math.max(width, height)) / 60;
    return `<circle cx="${width / 2}" cy="${height / 2}" r="${r}" fill="none" stroke="hsl(${(hue + i * 9) % 360},70%,45%)" stroke-width="${2 + (i % 5) * 3}"/>`;
  }).join('');
  const lines = Array.from({ length: 25 }, (_, i) => {
    const x = (i * width) / 24;
    const y = (i * height) / 24;
    return `<line x1="${x}" y1="0" x2="${x}" y2="${height}" stroke="#0003" stroke-width="2"/><line x1="0" y1="${y}" x2="${width}" y2="${y}" stroke="#0003" stroke-width="2"/>`;
  }).join('');
  return Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
      <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">
        <stop offset="0" stop-color="hsl(${hue},60%,85%)"/><stop offset="1" stop-color="hsl(${(hue + 120) % 360},60%,75%)"/>
      </linearGradient></defs>
      <rect width="100%" height="100%" fill="url(#g)"/>${rings}${lines}</svg>`,
  );
}

function colourGrid(cols: number, rows: number, cell: number): Buffer {
  const cells: string[] = [];
  for (let y = 0; y < rows; y++)
    for (let x = 0; x < cols; x++)
      cells.push(`<rect x="${x * cell}" y="${y * cell}" width="${cell}" height="${cell}" fill="hsl(${((y * cols + x) * 360) / (cols * rows)},80%,50%)"/>`);
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${cols * cell}" height="${rows * cell}">${cells.join('')}</svg>`);
}

await mkdir(`${SAMPLES_DIR}collection`, { recursive: true });
await sharp(pattern(6000, 4000, 200))
  .tiff({ tile: true, tileWidth: 256, tileHeight: 256, pyramid: true, compression: 'jpeg', quality: 80 })
  .toFile(`${SAMPLES_DIR}pyramid.tif`);
await sharp(pattern(2400, 1600, 20)).jpeg({ quality: 85 }).toFile(`${SAMPLES_DIR}rings.jpg`);
await sharp(colourGrid(6, 4, 200)).png().toFile(`${SAMPLES_DIR}colour-grid.png`);
await sharp(pattern(1600, 1200, 300)).webp({ quality: 80 }).toFile(`${SAMPLES_DIR}collection/violet.webp`);
console.log(`samples written to ${SAMPLES_DIR}`);
