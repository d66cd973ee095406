import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import { startServer, type RunningServer } from '../../adapters/node/server.ts';
import { IIIF_CASES } from '../cases/iiif-cases.ts';
import { runCases } from '../cases/run-cases.ts';
import { makeFixtures } from '../fixtures/images.ts';

let server: RunningServer;
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'iiif-edge-node-'));
  for (const [name, bytes] of Object.entries(await makeFixtures())) {
    await mkdir(dirname(join(root, name)), { recursive: true });
    await writeFile(join(root, name), bytes);
  }
  server = await startServer({ IIIF_ROOT: root, PORT: '0', HOST: '127.0.0.1' });
});

afterAll(async () => {
  await server?.close();
  await rm(root, { recursive: true, force: true });
});

describe('Node adapter: shared IIIF cases over HTTP', () => {
  runCases((path, init) => fetch(`${server.url}${path}`, init), IIIF_CASES);
});
