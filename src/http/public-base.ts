import type { Config } from '../config.ts';
import { requestUrl } from './request-url.ts';

const HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$/;

function firstForwarded(value: string | null): string | undefined {
  const first = value?.split(',')[0]?.trim();
  return first ? first : undefined;
}

/**
 * The public origin (plus optional path) that clients use, for info.json ids
 * and Link headers. Forwarded headers are believed only when configured,
 * because any client can send them to an exposed origin.
 */
export function publicBase(request: Request, config: Config): string {
  if (config.IIIF_PUBLIC_BASE_URL) return config.IIIF_PUBLIC_BASE_URL;
  let { scheme, host } = requestUrl(request.url);
  if (config.IIIF_TRUST_FORWARDED) {
    const proto = firstForwarded(request.headers.get('x-forwarded-proto'));
    if (proto === 'http' || proto === 'https') scheme = proto;
    const fwdHost = firstForwarded(request.headers.get('x-forwarded-host'));
    if (fwdHost && HOST.test(fwdHost)) host = fwdHost;
  }
  if (config.IIIF_FORCE_HOST) host = config.IIIF_FORCE_HOST;
  return `${scheme}://${host}`;
}

/** `{base}{prefix}/{version}`: the part of every IIIF URL before the identifier. */
export function serviceBase(request: Request, config: Config, version: 2 | 3): string {
  return `${publicBase(request, config)}${config.IIIF_PREFIX}/${version}`;
}
