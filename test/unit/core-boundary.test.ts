import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../../', import.meta.url).pathname;
/** Plug-ins that may use Node or native code; nothing else in src/ may. */
const NODE_PLUGINS = /^src\/(sources\/(fs-[a-z-]+|s3-[a-z-]+|disk-cache|from-config)|renderers\/sharp-[a-z0-9-]+)\.ts$/;
const FORBIDDEN = /(?:\bfrom\s+|\bimport\s*\(?\s*)['"](?:node:|@aws-sdk\/|(?:sharp|fs|path|os|crypto)['"/])/;

async function tsFiles(dir: string): Promise<string[]> {
  const entries = await readdir(join(ROOT, dir), { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.ts')).map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

describe('the core stays runtime-agnostic', () => {
  it('imports nothing Node-only, native or AWS outside the named plug-ins', async () => {
    const offenders: string[] = [];
    for (const file of await tsFiles('src')) {
      if (NODE_PLUGINS.test(file)) continue;
      const text = await readFile(join(ROOT, file), 'utf8');
      if (FORBIDDEN.test(text)) offenders.push(file);
    }
    expect(offenders).toEqual([]);
  });

  it('bundles for a neutral (Workers) platform with no Node built-ins, sharp or AWS SDK', async () => {
    const result = await build({
      entryPoints: [join(ROOT, 'src/app.ts')],
      bundle: true,
      write: false,
      metafile: true,
      format: 'esm',
      platform: 'neutral',
      mainFields: ['module', 'main'],
      conditions: ['workerd', 'worker', 'browser', 'import'],
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((p) => /node_modules\/(sharp|@aws-sdk|@img)\//.test(p))).toEqual([]);
    expect(inputs.some((p) => p.endsWith('src/app.ts'))).toBe(true);
  });
});
