export interface RequestUrl {
  scheme: string;
  host: string;
  /** Still percent-encoded, so `%2F` inside an identifier survives until the path is split. */
  pathname: string;
}

/**
 * The parts of `Request.url` the routes need, by slicing rather than `new URL()` (the hottest
 * line of info.json): every runtime hands over the URL already parsed and serialised, so the
 * string is absolute, lower-case in scheme and host, with no fragment.
 */
export function requestUrl(url: string): RequestUrl {
  const colon = url.indexOf(':');
  const hostStart = colon + 3;
  let pathStart = url.indexOf('/', hostStart);
  if (pathStart === -1) pathStart = url.length;
  const query = url.indexOf('?', pathStart);
  return {
    scheme: url.slice(0, colon),
    host: url.slice(hostStart, pathStart),
    pathname: url.slice(pathStart, query === -1 ? url.length : query) || '/',
  };
}
