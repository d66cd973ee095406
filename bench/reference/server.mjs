// The reference for `npm run bench`: iiif-processor 7 (the engine of
// serverless-iiif) behind a minimal node:http server, set up the way
// serverless-iiif's Lambda handler sets it up:
//   - one new Processor per request, built from the full request URL;
//   - the stream resolver opens the whole object per request (S3 GetObject
//     there, a file read stream here) and iiif-processor pipes it into sharp,
//     which buffers the entire file before decoding;
//   - the dimension function plays the S3 object metadata (width, height,
//     pages → halved page sizes, serverless-iiif's reduceByPages): a stat()
//     per request stands for its HEAD request, the values themselves are
//     remembered per file like metadata stored with the object. With
//     REF_DIMENSIONS=stream it returns null instead, and iiif-processor falls
//     back to sharp.metadata() over a second full read, as serverless-iiif
//     does for objects without metadata.
// Usage: node bench/reference/server.mjs <root> → prints {"url": "..."}.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { Processor } from 'iiif-processor';

// The very sharp instance iiif-processor loads (its own 0.34), not a second copy.
const require = createRequire(import.meta.url);
const sharp = createRequire(require.resolve('iiif-processor'))('sharp');

const root = resolve(process.argv[2] ?? '.');
const fromMetadata = process.env.REF_DIMENSIONS !== 'stream';

const streamResolver = async ({ id }) => createReadStream(join(root, id));

/** What serverless-iiif would find in the object's metadata, read once like an upload-time tag. */
const metadata = new Map();
const reduceByPages = ({ width, height, pages }) =>
  Array.from({ length: pages }, (_, page) => ({
    width: Math.floor(width / 2 ** page),
    height: Math.floor(height / 2 ** page),
  }));
const dimensionFunction = async ({ id }) => {
  if (!fromMetadata) return null;
  const path = join(root, id);
  const { size, mtimeMs } = await stat(path);
  const key = `${path}:${size}:${mtimeMs}`;
  let dims = metadata.get(key);
  if (!dims) {
    const { width, height, pages = 1 } = await sharp(path, { limitInputPixels: false }).metadata();
    dims = reduceByPages({ width, height, pages });
    metadata.set(key, dims);
  }
  return dims;
};

const server = createServer(async (req, res) => {
  try {
    const url = `http://${req.headers.host ?? '127.0.0.1'}${req.url}`;
    const processor = new Processor(url, streamResolver, { dimensionFunction });
    const result = await processor.execute();
    if (result.type === 'content') {
      const headers = { 'Content-Type': result.contentType };
      if (result.canonicalLink) headers.Link = `<${result.canonicalLink}>; rel=canonical`;
      res.writeHead(200, headers).end(result.body);
    } else if (result.type === 'redirect') {
      res.writeHead(302, { Location: result.location }).end();
    } else {
      res.writeHead(result.statusCode ?? 500, { 'Content-Type': 'text/plain' }).end(result.message);
    }
  } catch (err) {
    const status = typeof err?.statusCode === 'number' ? err.statusCode : 500;
    if (!res.headersSent) res.writeHead(status, { 'Content-Type': 'text/plain' });
    res.end(String(err?.message ?? err));
  }
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}`, sharp: sharp.versions.sharp, vips: sharp.versions.vips })}\n`);
});
const stop = () => server.close(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
