import { build, type BuildOptions } from 'esbuild';

const ROOT = new URL('../../', import.meta.url).pathname;

/** The Worker bundle the tests run in workerd; `wrangler deploy` bundles the same entry the same way. */
export const WORKER_BUILD: BuildOptions = {
  entryPoints: [`${ROOT}adapters/workers/index.ts`],
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  target: 'es2022',
  mainFields: ['module', 'main'],
  conditions: ['workerd', 'worker', 'browser', 'import'],
  logLevel: 'silent',
};

/** Bundles the Worker in memory and returns its source, plus which inputs went into it. */
export async function bundleWorker(minify = false): Promise<{ code: string; inputs: string[] }> {
  const result = await build({ ...WORKER_BUILD, minify, write: false, metafile: true });
  const code = result.outputFiles?.[0]?.text ?? '';
  return { code, inputs: Object.keys(result.metafile?.inputs ?? {}) };
}

// `npm run build:workers`: writes dist/workers/index.js and prints its size.
if (process.argv[1] === new URL(import.meta.url).pathname) {
  const { gzipSync } = await import('node:zlib');
  const { mkdir, writeFile } = await import('node:fs/promises');
  const { code } = await bundleWorker(true);
  await mkdir(`${ROOT}dist/workers`, { recursive: true });
  await writeFile(`${ROOT}dist/workers/index.js`, code);
  const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  console.log(`dist/workers/index.js: ${kib(Buffer.byteLength(code))} raw, ${kib(gzipSync(code).length)} gzip`);
}
