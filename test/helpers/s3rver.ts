import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The part of s3rver 3.7 (untyped CommonJS) these tests use. */
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  httpServer?: Server;
}
type S3rverClass = new (options: {
  address: string;
  port: number;
  directory: string;
  silent: boolean;
  configureBuckets: { name: string }[];
}) => S3rverInstance;
const S3rver = createRequire(import.meta.url)('s3rver') as S3rverClass;

/** s3rver's built-in dummy key pair: any other key is refused with 403. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/** Lets the SDK's default credential chain (what the adapters use) find s3rver's keys in this test process. */
export function useS3rverCredentials(): void {
  process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
}

export interface LocalS3 {
  endpoint: string;
  port: number;
  /** Stops listening and drops open connections (the data stays). */
  stop(): Promise<void>;
  /** Listens again on the same port with the same data. */
  start(): Promise<void>;
  /** Stops and deletes the data. */
  close(): Promise<void>;
}

/** s3rver on 127.0.0.1, on a free port, storing into a fresh temp directory. */
export async function startS3rver(buckets: string[]): Promise<LocalS3> {
  const directory = await mkdtemp(join(tmpdir(), 'iiif-edge-s3-'));
  let port = 0;
  let running: S3rverInstance | undefined;
  const start = async () => {
    running = new S3rver({ address: '127.0.0.1', port, directory, silent: true, configureBuckets: buckets.map((name) => ({ name })) });
    port = (await running.run()).port;
  };
  const stop = async () => {
    const server = running?.httpServer;
    running = undefined;
    if (!server) return;
    const closed = new Promise<void>((ok) => server.close(() => ok()));
    // Keep-alive sockets from the SDK would hold close() open.
    server.closeAllConnections();
    await closed;
  };
  await start();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    start,
    stop,
    async close() {
      await stop();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** A client for s3rver: path-style, its dummy keys, and the checksum settings it needs. */
export function s3rverClient(endpoint: string, credentials: { accessKeyId: string; secretAccessKey: string } = S3RVER_CREDENTIALS): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

export async function putObject(
  client: S3Client,
  bucket: string,
  key: string,
  body: Uint8Array,
  metadata?: Record<string, string>,
): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ...(metadata ? { Metadata: metadata } : {}) }));
}

/** Uploads every fixture under `prefix`, keyed by its name (`nested/grid.png` keeps its slash). */
export async function uploadAll(client: S3Client, bucket: string, files: Record<string, Uint8Array>, prefix = ''): Promise<void> {
  for (const [name, bytes] of Object.entries(files)) await putObject(client, bucket, prefix + name, bytes);
}

/** Counts the client's calls per command name (e.g. `GetObjectCommand`), for "no second read" checks. */
export function countCommands(client: S3Client): Map<string, number> {
  const counts = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => (args) => {
      counts.set(context.commandName ?? '?', (counts.get(context.commandName ?? '?') ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'countCommands' },
  );
  return counts;
}

export interface SlowProxy {
  endpoint: string;
  close(): Promise<void>;
}

/** A loopback TCP proxy that holds every connection for `delayMs` before relaying it: a store that hangs. */
export async function startSlowProxy(targetPort: number, delayMs: number): Promise<SlowProxy> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    sockets.add(client);
    client.pause();
    const timer = setTimeout(() => {
      const upstream = connect(targetPort, '127.0.0.1');
      sockets.add(upstream);
      client.pipe(upstream).pipe(client);
      client.resume();
      upstream.on('error', () => client.destroy());
    }, delayMs);
    client.on('error', () => clearTimeout(timer));
    client.on('close', () => clearTimeout(timer));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((ok) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => ok());
      }),
  };
}
