type Json = Record<string, unknown>;

/** One info.json field that differs: `check` is its name for --ignore, `text` what the report says. */
export interface InfoDiff {
  check: string;
  text: string;
}

/**
 * The info.json fields a viewer depends on: the API version, width, height, sizes, tiles, profile
 * level, and `id` (viewers build every tile URL from it) in three parts, so a change of host, which
 * a migration may make on purpose, can be accepted alone.
 */
const FIELDS: Array<[string, (j: Json) => unknown]> = [
  ['version', apiVersion],
  ['width', (j) => j.width],
  ['height', (j) => j.height],
  ['sizes', (j) => sortedSizes(j.sizes)],
  ['tiles', (j) => normalTiles(j.tiles)],
  ['profile', profileLevel],
  ['id scheme', (j) => idUrl(j)?.protocol],
  ['id host', (j) => idUrl(j)?.host],
  ['id path', (j) => idUrl(j)?.pathname],
];

export function diffInfo(oldBytes: Uint8Array, newBytes: Uint8Array): InfoDiff[] {
  let a: Json;
  let b: Json;
  try {
    a = object(JSON.parse(new TextDecoder().decode(oldBytes)));
    b = object(JSON.parse(new TextDecoder().decode(newBytes)));
  } catch {
    return [{ check: 'not JSON', text: 'not JSON' }];
  }
  return FIELDS.filter(([, pick]) => JSON.stringify(pick(a)) !== JSON.stringify(pick(b))).map(([name, pick]) => ({
    check: name,
    text: `${name} ${JSON.stringify(pick(a))} → ${JSON.stringify(pick(b))}`,
  }));
}

/** Any JSON value as an object; `null`, numbers and strings have no fields. */
const object = (v: unknown): Json => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {});

/** Entries of a list as objects, whatever a server put there (`tiles: [null]`), so comparing never throws. */
const entries = (v: unknown): Json[] => (Array.isArray(v) ? v.map(object) : []);

const sortedSizes = (sizes: unknown) => entries(sizes).map((s) => `${String(s.width)}x${String(s.height)}`).sort();

/** `height` defaults to `width`, and scale factors are a set. */
const normalTiles = (tiles: unknown) =>
  entries(tiles)
    .map((t) => {
      const scales = Array.isArray(t.scaleFactors) ? t.scaleFactors.map(Number).sort((x, y) => x - y) : [];
      return `${String(t.width)}x${String(t.height ?? t.width)}@${scales.join(',')}`;
    })
    .sort();

/** `level2` from 3.0's `profile` or from 2.1's compliance URI. */
function profileLevel(j: Json): string | undefined {
  const first: unknown = Array.isArray(j.profile) ? j.profile[0] : j.profile;
  return typeof first === 'string' ? /level[0-2]/.exec(first)?.[0] : undefined;
}

/** `id` (3.0) or `@id` (2.1) as a URL; a missing or unparsable one has no parts. */
function idUrl(j: Json): URL | undefined {
  const id = j.id ?? j['@id'];
  return typeof id === 'string' && URL.canParse(id) ? new URL(id) : undefined;
}

/** `2` or `3`, from the Image API context URI in `@context` (a string or a list). */
function apiVersion(j: Json): string | undefined {
  const contexts: unknown[] = Array.isArray(j['@context']) ? j['@context'] : [j['@context']];
  for (const c of contexts) {
    const version = typeof c === 'string' ? /iiif\.io\/api\/image\/(\d)\/context\.json/.exec(c)?.[1] : undefined;
    if (version) return version;
  }
  return undefined;
}

/**
 * Checks `--ignore` accepts: what a migration may change on purpose (another tile size lists
 * other tiles and sizes). Width, height, status and pixels are never expected to change.
 */
export const IGNORABLE = ['sizes', 'tiles', 'profile', 'id host', 'id scheme', 'id path', 'version', 'content type'];
