import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../../', import.meta.url).pathname;
const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  workspaces?: unknown;
};
const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { dev?: boolean }>;
};

/** Deployment, Workers tooling, the benchmark's reference server and test tools: never in a production install. */
const DEV_ONLY = [
  'aws-cdk-lib',
  'constructs',
  'workerd',
  'wrangler',
  'miniflare',
  'iiif-processor',
  'vitest',
  'playwright',
  'playwright-core',
  's3rver',
  'lambda-local',
  'autocannon',
  'fast-check',
];

/** Imported only when installed, with a fallback (adapters/node/log.ts): may stay a development dependency. */
const OPTIONAL_AT_RUNTIME = new Set(['pino-pretty']);
/** Scripts for developers, not code the server runs. */
const DEV_SCRIPTS = /(^|\/)(build|cold-start|make-samples)\.ts$/;

/** What `npm ci --omit=dev` installs: every lockfile entry not marked dev-only, by package name. */
function productionPackages(): Set<string> {
  const names = new Set<string>();
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '' || entry.dev) continue;
    const at = path.lastIndexOf('node_modules/');
    if (at >= 0) names.add(path.slice(at + 'node_modules/'.length));
  }
  return names;
}

async function runtimeFiles(dir: string): Promise<string[]> {
  const entries = await readdir(join(ROOT, dir), { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && /\.(ts|mjs)$/.test(e.name))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)))
    .filter((file) => !DEV_SCRIPTS.test(file));
}

/** Package names of the runtime (not type-only) imports in `text`. */
function importedPackages(text: string): string[] {
  const specifiers = [
    ...text.matchAll(/^\s*import\s+(?!type\b)[^'"]*?\bfrom\s+['"]([^'"]+)['"]/gm),
    ...text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm),
    ...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
    ...text.matchAll(/\bresolve\(\s*['"]([^'"./][^'"]*)['"]\s*\)/g),
  ].map((m) => m[1] ?? '');
  return specifiers
    .filter((s) => s !== '' && !s.startsWith('.') && !s.startsWith('node:'))
    .map((s) => (s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : (s.split('/')[0] ?? s)));
}

describe('lean production install (npm ci --omit=dev), from package-lock.json', () => {
  it('has no workspaces pulling deployment or benchmark packages into every install', () => {
    expect(pkg.workspaces).toBeUndefined();
  });

  it('installs none of the deployment, Workers, benchmark or test tools', () => {
    const production = productionPackages();
    expect(production.has('sharp') && production.has('hono')).toBe(true);
    expect(DEV_ONLY.filter((name) => production.has(name))).toEqual([]);
  });

  it('lists every package the server imports at run time in "dependencies"', async () => {
    const missing: string[] = [];
    for (const file of [...(await runtimeFiles('src')), ...(await runtimeFiles('adapters'))]) {
      const text = await readFile(join(ROOT, file), 'utf8');
      for (const name of importedPackages(text)) {
        if (!(name in pkg.dependencies) && !OPTIONAL_AT_RUNTIME.has(name)) missing.push(`${file}: ${name}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
