/**
 * `npm run build:lambda`: dist/lambda/<arch>/index.mjs (handlers `index.handler` and
 * `index.streamHandler`) plus sharp for linux/<arch> in dist/lambda/<arch>/node_modules.
 * Installing sharp reaches the npm registry. `--skip-sharp` bundles only.
 */
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, rm, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtinsByRequire } from '../node/builtins-plugin.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHARP_VERSION = '0.35.5';
/** Lambda architecture name → npm's cpu name. */
const ARCHES = { arm64: 'arm64', x86_64: 'x64' } as const;

/** The handler bundle alone (the bench measures its cold start with the same options). */
export async function bundleLambda(outfile: string): Promise<void> {
  await build({
    entryPoints: { [basename(outfile, '.mjs')]: `${ROOT}adapters/lambda/handler.ts` },
    outdir: dirname(outfile),
    outExtension: { '.js': '.mjs' },
    // What is imported on demand (the AWS SDK, pdf-lib, the JP2 codec) goes to chunks beside the
    // entry: V8 parses a whole file as it loads, and in one file they were about 70 ms of every cold start.
    splitting: true,
    chunkNames: 'chunk-[hash]',
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    minify: true,
    legalComments: 'none',
    // Native code: installed for the target platform next to the bundle.
    external: ['sharp'],
    plugins: [builtinsByRequire],
    // CommonJS dependencies (parts of the AWS SDK) call require() on Node built-ins.
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    logLevel: 'warning',
  });
}

async function buildArch(arch: keyof typeof ARCHES, installSharp: boolean): Promise<void> {
  const outdir = `${ROOT}dist/lambda/${arch}`;
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  await bundleLambda(`${outdir}/index.mjs`);
  // The JPEG 2000 decoder, found next to the bundle (src/renderers/sharp-jp2.ts).
  await copyFile(`${ROOT}vendor/openjpeg/openjpeg.wasm`, `${outdir}/openjpeg.wasm`);
  if (installSharp) {
    execFileSync(
      'npm',
      ['install', '--no-save', '--no-package-lock', '--os=linux', `--cpu=${ARCHES[arch]}`, '--libc=glibc', '--prefix', outdir, `sharp@${SHARP_VERSION}`],
      { stdio: 'inherit' },
    );
    await rm(`${outdir}/package.json`, { force: true });
  }
  const { size } = await stat(`${outdir}/index.mjs`);
  console.log(`dist/lambda/${arch}/index.mjs: ${(size / 1024).toFixed(0)} KiB`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const installSharp = !process.argv.includes('--skip-sharp');
  for (const arch of Object.keys(ARCHES) as (keyof typeof ARCHES)[]) await buildArch(arch, installSharp);
}
