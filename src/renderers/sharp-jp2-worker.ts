/**
 * A JPEG 2000 decoding thread (see sharp-jp2-pool.ts): its own OpenJPEG instance, one
 * decode at a time, pixels sent back without a copy. Errors go back as their kind and
 * one-line message.
 */
import { readFile } from 'node:fs/promises';
import { parentPort } from 'node:worker_threads';
import { type Jp2DecodeOptions, Jp2CodecError, loadJp2Codec } from '../jp2/codec.ts';

const port = parentPort;
if (!port) throw new Error('sharp-jp2-worker.ts runs as a worker thread');
const codec = loadJp2Codec(await readFile(new URL('../../vendor/openjpeg/openjpeg.wasm', import.meta.url)));

port.on('message', async ({ id, bytes, options }: { id: number; bytes: Uint8Array; options: Jp2DecodeOptions }) => {
  try {
    const pixels = (await codec).decode(bytes, options);
    port.postMessage({ id, pixels }, [pixels.data.buffer]);
  } catch (e) {
    const error = e instanceof Jp2CodecError ? { kind: e.kind, message: e.message } : { kind: 'failed', message: String(e) };
    port.postMessage({ id, error });
  }
});
