/**
 * One list of IIIF URL cases with expected results, run against every runtime
 * (Node, Lambda, workerd). Expectations come from the spec and from the
 * fixture's colour rule (test/fixtures/images.ts), never from our own output.
 */
import { GRID, gridColour } from '../fixtures/images.ts';

type RGB = [number, number, number];

export interface PixelCheck {
  x: number;
  y: number;
  rgb?: RGB;
  /** Single-channel value (gray, bitonal). */
  value?: number;
  alpha?: number;
  tolerance?: number;
}

export interface IiifCase {
  name: string;
  path: string;
  method?: 'GET' | 'HEAD' | 'OPTIONS';
  headers?: Record<string, string>;
  status: number;
  /** Exact header values or patterns. */
  expectHeaders?: Record<string, string | RegExp>;
  /** The response must have no body (HEAD, 304, 204). */
  emptyBody?: boolean;
  image?: { width: number; height: number; channels?: number; format?: string; pixels?: PixelCheck[]; sizeTolerance?: number; pngBitDepth?: number; twoLevels?: boolean };
  json?: Record<string, unknown>;
  /** Needs a pixel renderer (a Workers deployment without one forwards or answers 501). */
  render?: boolean;
  /** What differs on a deployment without a renderer (level 0: only what stored tiles answer). */
  storedOnly?: Partial<IiifCase>;
}

const v3 = '/iiif/3/grid.png';
const v2 = '/iiif/2/grid.png';
const LD3 = 'application/ld+json;profile="http://iiif.io/api/image/3/context.json"';
const at = (x: number, y: number, srcX: number, srcY: number, tolerance = 6): PixelCheck => ({
  x,
  y,
  rgb: gridColour(srcX, srcY),
  tolerance,
});
const canonical = (url: string) => new RegExp(`<[^>]*${url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}>;rel="canonical"`);
const PROFILE3 = /<http:\/\/iiif\.io\/api\/image\/3\/level2\.json>;rel="profile"/;
const img = (path: string, width: number, height: number, extra: Partial<NonNullable<IiifCase['image']>> = {}) => ({
  path,
  status: 200,
  render: true,
  image: { width, height, ...extra },
});

const GRID_CASES: IiifCase[] = [
  // info.json and routing
  {
    name: '3.0 info.json',
    path: `${v3}/info.json`,
    status: 200,
    expectHeaders: { 'content-type': LD3, vary: /Accept/i, 'access-control-allow-origin': '*' },
    json: { '@context': 'http://iiif.io/api/image/3/context.json', type: 'ImageService3', protocol: 'http://iiif.io/api/image', profile: 'level2', width: GRID.width, height: GRID.height },
    storedOnly: { json: { '@context': 'http://iiif.io/api/image/3/context.json', type: 'ImageService3', protocol: 'http://iiif.io/api/image', profile: 'level0', width: GRID.width, height: GRID.height } },
  },
  { name: '3.0 info.json as plain JSON', path: `${v3}/info.json`, headers: { accept: 'application/json' }, status: 200, expectHeaders: { 'content-type': 'application/json' } },
  {
    name: '2.1 info.json',
    path: `${v2}/info.json`,
    status: 200,
    expectHeaders: { 'content-type': 'application/json' },
    json: { '@context': 'http://iiif.io/api/image/2/context.json', protocol: 'http://iiif.io/api/image', width: GRID.width, height: GRID.height },
  },
  { name: '2.1 info.json as JSON-LD', path: `${v2}/info.json`, headers: { accept: 'application/ld+json' }, status: 200, expectHeaders: { 'content-type': /^application\/ld\+json/ } },
  { name: '%2F identifier info.json', path: '/iiif/3/nested%2Fgrid.png/info.json', status: 200, json: { width: GRID.width } },
  { name: 'raw slash identifier is unknown', path: '/iiif/3/nested/grid.png/info.json', status: 404 },
  { name: 'base URI redirects to info.json', path: v3, status: 303, expectHeaders: { location: /\/iiif\/3\/grid\.png\/info\.json$/ } },
  // The base URI with a trailing slash is the same resource (Cantaloupe redirects it too).
  { name: 'base URI with a trailing slash redirects to info.json', path: `${v3}/`, status: 303, expectHeaders: { location: /\/iiif\/3\/grid\.png\/info\.json$/ } },
  { name: 'v2 base URI with a trailing slash redirects to info.json', path: `${v2}/`, status: 303, expectHeaders: { location: /\/iiif\/2\/grid\.png\/info\.json$/ } },
  // Monitors ping the version root, with or without the trailing slash (serverless-iiif's answer is opt-in).
  { name: 'version ping', path: '/iiif/3', status: 200, json: { status: 'ok', version: 3 } },
  { name: 'version ping with trailing slash', path: '/iiif/2/', status: 200, json: { status: 'ok', version: 2 } },
  { name: 'unknown identifier', path: '/iiif/3/missing.png/info.json', status: 404, expectHeaders: { 'access-control-allow-origin': '*', 'content-type': /json/ } },
  { name: 'unknown identifier image', path: '/iiif/3/missing.png/full/max/0/default.jpg', status: 404 },
  { name: 'traversal with encoded dots', path: '/iiif/3/..%2F..%2Fetc%2Fpasswd/info.json', status: 400 },
  { name: 'traversal with %2e%2e', path: '/iiif/3/%2e%2e%2Fsecret.png/info.json', status: 400 },
  { name: 'NUL in identifier', path: '/iiif/3/grid.png%00.jpg/info.json', status: 400 },
  { name: 'OPTIONS preflight', path: `${v3}/info.json`, method: 'OPTIONS', headers: { origin: 'https://viewer.example', 'access-control-request-method': 'GET' }, status: 204, expectHeaders: { 'access-control-allow-origin': '*', 'access-control-allow-methods': /GET/ } },

  // region (3.0 §4.1; the spec's own example: 125,15,200,200 on 300×200 gives 175×185)
  { name: 'full/max', ...img(`${v3}/full/max/0/default.png`, 300, 200, { pixels: [at(10, 10, 10, 10), at(160, 110, 160, 110), at(290, 190, 290, 190)] }), expectHeaders: { 'content-type': 'image/png', link: canonical('/iiif/3/grid.png/full/max/0/default.png') } },
  { name: 'profile Link header', ...img(`${v3}/full/max/0/default.png`, 300, 200), expectHeaders: { link: PROFILE3 } },
  { name: 'region clipped at the edge', ...img(`${v3}/125,15,200,200/max/0/default.png`, 175, 185, { pixels: [at(5, 5, 130, 20), at(30, 40, 155, 55)] }), expectHeaders: { link: canonical('/iiif/3/grid.png/125,15,175,185/max/0/default.png') } },
  { name: 'region square', ...img(`${v3}/square/max/0/default.png`, 200, 200, { pixels: [at(10, 10, 60, 10), at(190, 190, 240, 190)] }), expectHeaders: { link: canonical('/iiif/3/grid.png/50,0,200,200/max/0/default.png') } },
  { name: 'region pct', ...img(`${v3}/pct:50,50,50,50/max/0/default.png`, 150, 100, { pixels: [at(10, 10, 160, 110)] }), expectHeaders: { link: canonical('/iiif/3/grid.png/150,100,150,100/max/0/default.png') } },
  { name: 'region entirely outside', path: `${v3}/400,300,10,10/max/0/default.png`, status: 400 },
  { name: 'region zero width', path: `${v3}/0,0,0,10/max/0/default.png`, status: 400 },
  { name: 'region junk', path: `${v3}/abc/max/0/default.png`, status: 400 },

  // size
  { name: 'size w,', ...img(`${v3}/full/150,/0/default.png`, 150, 100, { pixels: [at(10, 10, 20, 20), at(80, 60, 160, 120)] }), expectHeaders: { link: canonical('/iiif/3/grid.png/full/150,100/0/default.png') } },
  { name: 'size ,h', ...img(`${v3}/full/,100/0/default.png`, 150, 100) },
  { name: 'size pct:50', ...img(`${v3}/full/pct:50/0/default.png`, 150, 100) },
  { name: 'size w,h distorts', ...img(`${v3}/full/150,50/0/default.png`, 150, 50, { pixels: [at(80, 30, 160, 120)] }) },
  { name: 'size !w,h fits', ...img(`${v3}/full/!150,150/0/default.png`, 150, 100) },
  { name: 'size !w,h larger than the region is not upscaled (3.0)', ...img(`${v3}/full/!2000,2000/0/default.png`, 300, 200) },
  { name: 'size ^w, upscales', ...img(`${v3}/full/^600,/0/default.png`, 600, 400, { pixels: [at(330, 230, 165, 115)] }), expectHeaders: { link: canonical('/iiif/3/grid.png/full/^600,400/0/default.png') } },
  { name: 'size ^max is served', path: `${v3}/full/^max/0/default.png`, method: 'HEAD', status: 200, emptyBody: true, render: true },
  { name: 'size w, above region without ^ (3.0)', path: `${v3}/full/600,/0/default.png`, status: 400 },
  { name: 'size pct above 100 without ^', path: `${v3}/full/pct:150/0/default.png`, status: 400 },
  { name: 'size ^pct:150', ...img(`${v3}/full/^pct:150/0/default.png`, 450, 300) },
  { name: 'size full is not 3.0', path: `${v3}/full/full/0/default.png`, status: 400 },
  { name: 'size zero', path: `${v3}/full/0,/0/default.png`, status: 400 },
  { name: 'size over maxWidth', path: `${v3}/full/^20000,/0/default.png`, status: 400 },

  // rotation and mirroring
  { name: 'mirror', ...img(`${v3}/full/max/!0/default.png`, 300, 200, { pixels: [at(10, 10, 289, 10), at(289, 190, 10, 190)] }) },
  { name: 'rotate 90', ...img(`${v3}/full/max/90/default.png`, 200, 300, { pixels: [at(10, 10, 10, 189), at(190, 290, 290, 9)] }) },
  { name: 'rotate 180', ...img(`${v3}/full/max/180/default.png`, 300, 200, { pixels: [at(10, 10, 289, 189)] }) },
  { name: 'mirror then rotate 90', ...img(`${v3}/full/max/!90/default.png`, 200, 300, { pixels: [at(10, 10, 289, 189)] }) },
  { name: 'rotate 45 png is transparent in the corners', ...img(`${v3}/full/max/45/default.png`, 354, 354, { sizeTolerance: 1, channels: 4, pixels: [{ x: 1, y: 1, alpha: 0, tolerance: 0 }] }) },
  { name: 'rotate 45 jpg has a white background', ...img(`${v3}/full/max/45/default.jpg`, 354, 354, { sizeTolerance: 1, pixels: [{ x: 1, y: 1, rgb: [255, 255, 255], tolerance: 8 }] }) },
  { name: 'rotation above 360', path: `${v3}/full/max/361/default.png`, status: 400 },

  // quality and format
  { name: 'gray is one channel', ...img(`${v3}/full/max/0/gray.png`, 300, 200, { channels: 1, pixels: [{ x: 160, y: 110, value: 155, tolerance: 8 }] }) },
  { name: 'bitonal is a 1-bit black and white PNG', ...img(`${v3}/full/max/0/bitonal.png`, 300, 200, { pngBitDepth: 1, pixels: [{ x: 10, y: 10, value: 0, tolerance: 0 }, { x: 290, y: 190, value: 255, tolerance: 0 }] }) },
  // Bitonal means two levels: a lossy encoder would add grey at every edge.
  { name: 'bitonal webp holds only black and white', ...img(`${v3}/full/max/0/bitonal.webp`, 300, 200, { format: 'webp', twoLevels: true }) },
  { name: 'bitonal png holds only black and white', ...img(`${v3}/full/max/0/bitonal.png`, 300, 200, { twoLevels: true }) },
  { name: 'color quality', ...img(`${v3}/full/max/0/color.png`, 300, 200, { pixels: [at(160, 110, 160, 110)] }) },
  { name: 'quality junk', path: `${v3}/full/max/0/sepia.png`, status: 400 },
  { name: 'jpg', ...img(`${v3}/full/max/0/default.jpg`, 300, 200, { format: 'jpeg', pixels: [at(160, 110, 160, 110, 12)] }), expectHeaders: { 'content-type': 'image/jpeg' } },
  { name: 'webp', ...img(`${v3}/full/max/0/default.webp`, 300, 200, { format: 'webp' }), expectHeaders: { 'content-type': 'image/webp' } },
  { name: 'gif', ...img(`${v3}/full/max/0/default.gif`, 300, 200, { format: 'gif' }), expectHeaders: { 'content-type': 'image/gif' } },
  { name: 'tif', ...img(`${v3}/full/max/0/default.tif`, 300, 200, { format: 'tiff' }), expectHeaders: { 'content-type': 'image/tiff' } },
  { name: 'avif', ...img(`${v3}/full/max/0/default.avif`, 300, 200, { format: 'heif' }), expectHeaders: { 'content-type': 'image/avif' } },
  { name: 'jp2', ...img(`${v3}/full/max/0/default.jp2`, 300, 200, { format: 'jp2', channels: 3, pixels: [at(160, 110, 160, 110, 12), at(10, 190, 10, 190, 12)] }), expectHeaders: { 'content-type': 'image/jp2' } },
  { name: 'jp2 gray is one channel', ...img(`${v3}/full/150,/0/gray.jp2`, 150, 100, { format: 'jp2', channels: 1 }) },
  { name: 'jp2 rotated 45 keeps transparent corners', ...img(`${v3}/full/max/45/default.jp2`, 354, 354, { format: 'jp2', sizeTolerance: 1, channels: 4, pixels: [{ x: 1, y: 1, alpha: 0, tolerance: 0 }] }) },
  { name: 'pdf holds the JPEG of the region', ...img(`${v3}/100,50,100,100/max/0/default.pdf`, 100, 100, { format: 'pdf', pixels: [at(60, 60, 160, 110, 12)] }), expectHeaders: { 'content-type': 'application/pdf' } },
  { name: 'unknown format', path: `${v3}/full/max/0/default.xyz`, status: 400 },
  { name: 'missing format', path: `${v3}/full/max/0/default`, status: 400 },
  { name: 'junk segment with a valid tail is an unknown identifier', path: '/iiif/3/a/b/grid.png/full/max/0/default.png', status: 404 },
  { name: 'too few segments', path: `${v3}/full/max/0`, status: 400 },
  { name: 'HEAD answers without a body', path: `${v3}/full/max/0/default.png`, method: 'HEAD', status: 200, emptyBody: true, render: true, expectHeaders: { 'content-type': 'image/png', etag: /^"/ } },

  // 2.1
  { name: '2.1 full/full', ...img(`${v2}/full/full/0/default.png`, 300, 200, { pixels: [at(160, 110, 160, 110)] }), expectHeaders: { link: canonical('/iiif/2/grid.png/full/full/0/default.png') } },
  { name: '2.1 w, keeps the aspect', ...img(`${v2}/full/150,/0/default.jpg`, 150, 100), expectHeaders: { link: canonical('/iiif/2/grid.png/full/150,/0/default.jpg') } },
  { name: '2.1 upscaling is implicit', ...img(`${v2}/full/600,/0/default.png`, 600, 400) },
  { name: '2.1 has no ^', path: `${v2}/full/^600,/0/default.png`, status: 400 },
  { name: '2.1 !w,h', ...img(`${v2}/full/!150,150/0/default.png`, 150, 100) },
  { name: '2.1 %2F identifier image', ...img('/iiif/2/nested%2Fgrid.png/full/max/0/default.png', 300, 200), expectHeaders: { link: /nested%2Fgrid\.png\// } },

  // tiled pyramidal TIFF (2000×1500, 256 px tiles)
  { name: 'pyramid info.json tiles', path: '/iiif/3/pyramid.tif/info.json', status: 200, json: { width: 2000, height: 1500 } },
  { name: 'pyramid tile at scale 1', ...img('/iiif/3/pyramid.tif/256,256,256,256/256,/0/default.jpg', 256, 256, { pixels: [at(20, 20, 276, 276, 20), at(200, 120, 456, 376, 20)] }) },
  { name: 'pyramid edge tile at scale 1', ...img('/iiif/3/pyramid.tif/1792,1280,208,220/208,/0/default.jpg', 208, 220, { pixels: [at(200, 210, 1992, 1490, 20)] }) },
  { name: 'pyramid edge tile at scale 4', ...img('/iiif/3/pyramid.tif/1024,1024,976,476/244,/0/default.jpg', 244, 119, { pixels: [at(13, 13, 1076, 1076, 24)] }) },
  { name: 'pyramid thumbnail', ...img('/iiif/3/pyramid.tif/full/!200,200/0/default.jpg', 200, 150) },
  // The smallest level is 250×187; viewers round level sizes up (188) or down: both are served from it.
  { name: 'pyramid level plus a rounding pixel', ...img('/iiif/3/pyramid.tif/full/250,188/0/default.jpg', 250, 188, { pixels: [at(20, 20, 160, 160, 24), at(240, 172, 1925, 1375, 24), at(245, 187, 1965, 1495, 24)] }), render: false },
  { name: 'pyramid level minus a rounding pixel', ...img('/iiif/3/pyramid.tif/full/249,186/0/default.jpg', 249, 186, { pixels: [at(20, 20, 160, 160, 24), at(240, 171, 1925, 1375, 24)] }), render: false },
  // LZW pyramid: lossless, so a region across tiles has the fixture's exact colours.
  { name: 'LZW pyramid region across tiles', ...img('/iiif/3/pyramid-lzw.tif/200,200,400,300/max/0/default.png', 400, 300, { pixels: [at(10, 10, 210, 210, 0), at(390, 290, 590, 490, 0), at(70, 70, 270, 270, 0)] }) },
  { name: 'LZW pyramid edge region', ...img('/iiif/3/pyramid-lzw.tif/1900,1400,100,100/max/0/default.png', 100, 100, { pixels: [at(95, 95, 1995, 1495, 0)] }) },
  // One pixel at full size is the source's pixel, not a smaller level's (a mix of two grid cells here).
  { name: 'LZW pyramid one pixel at a cell corner', ...img('/iiif/3/pyramid-lzw.tif/1049,749,1,1/1,1/0/default.png', 1, 1, { pixels: [at(0, 0, 1049, 749, 0)] }) },
  { name: 'LZW pyramid two pixels across cells', ...img('/iiif/3/pyramid-lzw.tif/1049,749,2,2/2,2/0/default.png', 2, 2, { pixels: [at(0, 0, 1049, 749, 0), at(1, 1, 1050, 750, 0), at(1, 0, 1050, 749, 0)] }) },
  { name: 'LZW pyramid scaled', ...img('/iiif/3/pyramid-lzw.tif/full/500,/0/default.png', 500, 375, { pixels: [at(18, 18, 75, 75, 12), at(480, 360, 1925, 1445, 12)] }) },
  // A source no decoder can read: the stored image is at fault, so 422 and short-cacheable, not 500.
  { name: 'corrupt source info.json is 422', path: '/iiif/3/corrupt.jpg/info.json', status: 422, json: { error: 'unsupported_source' }, expectHeaders: { 'cache-control': 'public, max-age=60' } },
];

/**
 * The grid cases again on grid.jp2 (the same pixels, lossless JPEG 2000 in 128 px tiles with
 * two reductions), so every runtime serves JP2 sources by the same expectations; plus its
 * info.json, whose tiles and sizes come from the codestream (ceil(300 / 2^r) × ceil(200 / 2^r)).
 */
const onJp2 = (c: IiifCase): IiifCase => ({
  ...c,
  name: `JP2 ${c.name}`,
  path: c.path.replace('/grid.png', '/grid.jp2'),
  ...(c.expectHeaders && {
    expectHeaders: Object.fromEntries(
      Object.entries(c.expectHeaders).map(([k, v]) => [k, typeof v === 'string' ? v.replace('grid.png', 'grid.jp2') : new RegExp(v.source.replace('grid\\.png', 'grid\\.jp2'))]),
    ),
  }),
});

const JP2_CASES: IiifCase[] = [
  {
    name: 'JP2 3.0 info.json: tiles and sizes from the codestream',
    path: '/iiif/3/grid.jp2/info.json',
    status: 200,
    json: {
      width: 300,
      height: 200,
      tiles: [{ width: 128, height: 128, scaleFactors: [1, 2, 4] }],
      sizes: [
        { width: 75, height: 50 },
        { width: 150, height: 100 },
        { width: 300, height: 200 },
      ],
    },
    // Its tiles are decoded, which takes a renderer to encode.
    storedOnly: { json: { width: 300, height: 200, profile: 'level0' } },
  },
  {
    name: 'JP2 2.1 info.json',
    path: '/iiif/2/grid.jp2/info.json',
    status: 200,
    json: { width: 300, height: 200, tiles: [{ width: 128, height: 128, scaleFactors: [1, 2, 4] }] },
    storedOnly: { json: { width: 300, height: 200, profile: ['http://iiif.io/api/image/2/level0.json', { formats: ['jpg'] }] } },
  },
  ...GRID_CASES.filter((c) => /^\/iiif\/[23]\/grid\.png\/[^/]+\//.test(c.path) && !c.path.endsWith('.jp2')).map(onJp2),
];

export const IIIF_CASES: IiifCase[] = [...GRID_CASES, ...JP2_CASES];
