import { basename, dirname } from 'node:path';
import { build } from 'esbuild';
import { builtinsByRequire } from './builtins-plugin.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

/**
 * An ESM bundle for `node` with no TypeScript loader in the process (less memory,
 * faster start). sharp stays external: it is native and loads its own binary.
 */
export async function buildNodeBundle(entry: string, outfile: string): Promise<void> {
  await build({
    entryPoints: { [basename(outfile, '.mjs')]: entry },
    outdir: dirname(outfile),
    outExtension: { '.js': '.mjs' },
    // What is imported on demand (the AWS SDK, pdf-lib, prom-client, the JP2 codec) goes to chunks
    // beside the entry, so a start parses only what serving needs.
    splitting: true,
    chunkNames: 'chunk-[hash]',
    minify: true,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    external: ['sharp'],
    plugins: [builtinsByRequire],
    // Bundled CommonJS dependencies call require(); ESM output has none of its own.
    banner: { js: "import { createRequire as __iiifRequire } from 'node:module'; const require = __iiifRequire(import.meta.url);" },
    logLevel: 'warning',
  });
}

// `npm run build:node`: dist/node/main.mjs, run with `node dist/node/main.mjs [--root …] [--port …]`.
if (process.argv[1] === new URL(import.meta.url).pathname) {
  await buildNodeBundle(`${ROOT}adapters/node/main.ts`, `${ROOT}dist/node/main.mjs`);
  console.log('dist/node/main.mjs written');
}
