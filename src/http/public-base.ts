import { HOST_PORT, type Config } from '../config.ts';
import { httpError } from '../errors.ts';
import { requestUrl } from './request-url.ts';

function firstForwarded(value: string | null): string | undefined {
  const first = value?.split(',')[0]?.trim();
  return first ? first : undefined;
}

/**
 * A host taken from the request ends up in info.json ids, Link and Location headers that
 * shared caches keep: anything but a plain host[:port] (or, with IIIF_PUBLIC_HOSTS, a listed
 * one) is refused, and the refusal itself is not cached.
 */
function checkedHost(host: string, config: Config): string {
  const allowed = config.IIIF_PUBLIC_HOSTS;
  if (allowed ? allowed.includes(host.toLowerCase()) : HOST_PORT.test(host)) return host;
  throw httpError(400, 'bad_request', 'the Host header names no host this server answers for', { 'Cache-Control': 'no-store' });
}

/** What the public base is read from: a Request, or the Node adapter's direct view of one. */
export interface RequestView {
  url: string;
  headers: { get(name: string): string | null };
}

/**
 * The public origin (plus optional path) that clients use, for info.json ids
 * and Link headers. Forwarded headers are believed only when configured,
 * because any client can send them to an exposed origin.
 */
export function publicBase(request: RequestView, config: Config): string {
  if (config.IIIF_PUBLIC_BASE_URL) return config.IIIF_PUBLIC_BASE_URL;
  let { scheme, host } = requestUrl(request.url);
  if (config.IIIF_TRUST_FORWARDED) {
    const proto = firstForwarded(request.headers.get('x-forwarded-proto'))?.toLowerCase();
    if (proto === 'http' || proto === 'https') scheme = proto;
    const fwdHost = firstForwarded(request.headers.get('x-forwarded-host'));
    if (fwdHost && HOST_PORT.test(fwdHost)) host = fwdHost;
  }
  if (config.IIIF_FORCE_HOST) return `${scheme}://${config.IIIF_FORCE_HOST}`;
  return `${scheme}://${checkedHost(host, config)}`;
}

/** `{base}{prefix}/{version}`: the part of every IIIF URL before the identifier. */
export function serviceBase(request: RequestView, config: Config, version: 2 | 3): string {
  return `${publicBase(request, config)}${config.IIIF_PREFIX}/${version}`;
}
