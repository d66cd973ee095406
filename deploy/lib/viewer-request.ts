/**
 * Source of the CloudFront Function (runtime cloudfront-js-2.0) run on every viewer request.
 *
 * 1. Public host. With Origin Access Control the origin request policy must not forward the viewer
 *    `Host` (the Function URL needs its own), so the app cannot see the public name. The function sets
 *    `x-forwarded-host` to `event.context.distributionDomainName` (d123.cloudfront.net): a value
 *    CloudFront supplies, that no client can choose, and that does not depend on which alias was used,
 *    so a cached info.json is right for every viewer. A client-sent `x-forwarded-host` is always
 *    overwritten. The app believes the header only with IIIF_TRUST_FORWARDED=true, which the stack sets
 *    only when no explicit public base URL (custom domain or ForceHost) is configured; and only
 *    CloudFront can call the IAM-authenticated Function URL, so nobody can go around this function.
 * 2. Cache key. The cache policy keys on `Accept`; this function reduces it to what the app's
 *    info.json negotiation (hono `accepts`, supports [application/ld+json, application/json]) would
 *    decide: `application/ld+json`, `application/json`, or no header (the app's per-version default).
 *    Every other route ignores Accept, so it is removed there. test/viewer-request.test.ts checks the
 *    reduction against hono's own `accepts`.
 * 3. Preflight. Client-sent `x-preflight-location` / `x-preflight-dimensions` are always removed: the
 *    app trusts them (IIIF_PREFLIGHT=true) only because this function is the one place that can set
 *    them. A deployment's own `preflight(event)` (props.preflightSource) runs afterwards and may set them.
 *
 * ES5 syntax, so the same text runs under CloudFront and in the tests.
 */
const NEGOTIATE = `var SUPPORTS = ['application/ld+json', 'application/json'];

function specificity(type) {
  if (type === '*/*' || type === '*') return 1;
  return /\\/\\*$/.test(type) ? 2 : 3;
}

function matches(range, type) {
  if (range === type) return true;
  if (range === '*/*' || range === '*') return false;
  return /\\/\\*$/.test(range) && range.split('/')[0] === type.split('/')[0];
}

function negotiate(header) {
  var ranges = [];
  var exact = {};
  var parts = header.split(',');
  for (var i = 0; i < parts.length; i++) {
    var params = parts[i].split(';');
    var type = params[0].trim().toLowerCase();
    if (!type) continue;
    var q = 1;
    for (var j = 1; j < params.length; j++) {
      var kv = params[j].split('=');
      var key = kv[0].trim().toLowerCase();
      if (key === 'q') {
        var raw = (kv[1] || '').trim();
        q = raw === '' ? 1 : raw === 'NaN' ? 0 : Number(raw);
        q = isNaN(q) ? 1 : Math.max(0, Math.min(1, q));
      }
    }
    if (specificity(type) === 3) exact[type] = true;
    if (q > 0) ranges.push({ type: type, q: q, order: i });
  }
  ranges.sort(function (a, b) {
    if (b.q !== a.q) return b.q - a.q;
    var s = specificity(b.type) - specificity(a.type);
    return s !== 0 ? s : a.order - b.order;
  });
  for (var r = 0; r < ranges.length; r++) {
    for (var k = 0; k < SUPPORTS.length; k++) {
      var range = ranges[r].type;
      if (matches(range, SUPPORTS[k]) && (specificity(range) !== 2 || !exact[SUPPORTS[k]])) return SUPPORTS[k];
    }
  }
  return null;
}

function handler(event) {
  var request = event.request;
  var headers = request.headers;
  headers['x-forwarded-host'] = { value: event.context.distributionDomainName };
  delete headers['x-preflight-location'];
  delete headers['x-preflight-dimensions'];
  if (typeof preflight === 'function') preflight(event);
  var accept = headers.accept ? headers.accept.value : '';
  var wanted = accept && /\\/info\\.json$/.test(request.uri) ? negotiate(accept) : null;
  if (wanted) {
    headers.accept = { value: wanted };
  } else {
    delete headers.accept;
  }
  return request;
}
`;

/** The function's source; `preflightSource` must define `function preflight(event)` in ES5. */
export function viewerRequestSource(preflightSource?: string): string {
  return preflightSource ? `${NEGOTIATE}\n${preflightSource.trim()}\n` : NEGOTIATE;
}

export const VIEWER_REQUEST_SOURCE = viewerRequestSource();
