/**
 * Strong ETag from the source's identity and everything else that shapes the bytes.
 * Two FNV-1a hashes with different seeds give 64 bits: enough to tell the versions of
 * one URL apart, computed synchronously on the hot path.
 */
export function makeEtag(parts: readonly string[]): string {
  const text = parts.join('\u0000');
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
  }
  return `"${(a >>> 0).toString(16).padStart(8, '0')}${(b >>> 0).toString(16).padStart(8, '0')}"`;
}

/** If-None-Match matching per RFC 9110 §13.1.2 (weak comparison). */
export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const bare = etag.replace(/^W\//, '');
  return header.split(',').some((raw) => {
    const tag = raw.trim();
    return tag === '*' || tag.replace(/^W\//, '') === bare;
  });
}
