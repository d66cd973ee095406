import { InvalidArgumentError } from 'commander';

export interface Rename {
  from: string;
  to: string;
}

/** `--rename .jp2:.tif`: a name ending in FROM (any case) ends in TO instead. */
export function parseRename(raw: string, previous: Rename[] = []): Rename[] {
  const at = raw.indexOf(':');
  const from = raw.slice(0, at);
  const to = raw.slice(at + 1);
  if (at <= 0 || to.includes(':')) throw new InvalidArgumentError('expected FROM:TO, such as .jp2:.tif');
  return [...previous, { from, to }];
}

/** `--key-template %s.tif`: `%s` is the name without its extension (serverless-iiif's resolverTemplate). */
export function parseKeyTemplate(raw: string): string {
  if (!raw.includes('%s')) throw new InvalidArgumentError('expected a template containing %s, such as %s.tif');
  return raw;
}

/** The output name of an input: the first matching rename, else the key template, else the same name. */
export function outputName(name: string, renames: Rename[], template: string | undefined): string {
  const lower = name.toLowerCase();
  const rename = renames.find((r) => lower.endsWith(r.from.toLowerCase()));
  if (rename) return name.slice(0, name.length - rename.from.length) + rename.to;
  if (template === undefined) return name;
  const base = name.slice(name.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  const stem = dot > 0 ? name.slice(0, name.length - base.length + dot) : name;
  return template.split('%s').join(stem);
}
