import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../../', import.meta.url).pathname;
const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
const slug = (heading: string) =>
  heading.trim().toLowerCase().replace(/[`*_]/g, '').replace(/[^\p{L}\p{N}\s-]/gu, '').replace(/\s/g, '-');
const anchors = (markdown: string) =>
  new Set([...markdown.replace(/```[\s\S]*?```/g, '').matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => slug(m[1] ?? '')));

describe('README and docs/', () => {
  it('README stays short and starts with a contents list', () => {
    const readme = read('README.md');
    expect(Buffer.byteLength(readme)).toBeLessThan(12 * 1024);
    expect(readme).toMatch(/^## Contents$/m);
  });

  it.each(DOCS)('every relative link in %s resolves, anchors included', (file) => {
    const text = read(file).replace(/```[\s\S]*?```/g, '');
    const broken: string[] = [];
    for (const [, target = ''] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/i.test(target)) continue;
      const [path = '', anchor] = target.split('#');
      const resolved = path ? relative(ROOT, join(ROOT, dirname(file), path)) : file;
      if (!existsSync(join(ROOT, resolved))) broken.push(target);
      else if (anchor && resolved.endsWith('.md') && !anchors(read(resolved)).has(anchor)) broken.push(target);
    }
    expect(broken).toEqual([]);
  });

  it('every setting of the schema is in the configuration reference', () => {
    const keys = [...read('src/config.ts').matchAll(/^\s{2}((?:IIIF_[A-Z0-9_]+)|PORT|HOST):/gm)].map((m) => m[1]);
    expect(keys.length).toBeGreaterThan(30);
    const reference = read('docs/configuration.md');
    expect(keys.filter((k) => !reference.includes(`\`${k}\``))).toEqual([]);
  });
});
