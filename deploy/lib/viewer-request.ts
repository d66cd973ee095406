/**
 * Source of the CloudFront Function (runtime cloudfront-js-2.0) that runs on every viewer request.
 *
 * 1. Public host. With Origin Access Control the origin request policy must not forward the viewer
 *    `Host` (the Function URL needs its own), so the app cannot see the public name. The function sets
 *    `x-forwarded-host` to `event.context.distributionDomainName` (d123.cloudfront.net): a value
 *    CloudFront supplies, that no client can choose, and that does not depend on which alias was used,
 *    so a cached info.json is right for every viewer. Any client-sent `x-forwarded-host` is
 *    overwritten. The app trusts it only with IIIF_TRUST_FORWARDED=true, which the stack sets only
 *    when no explicit public base URL (custom domain or ForceHost) is configured. Only CloudFront
 *    can invoke the IAM-authenticated Function URL, so the header cannot be forged around it.
 * 2. Cache key. The cache policy keys on `Accept`, which this function normalises: info.json gets one
 *    of two values (JSON-LD or plain JSON); every other response ignores `Accept`, so it is removed.
 *
 * Kept to ES5.1 syntax so it also runs as plain JavaScript in the tests.
 */
export const VIEWER_REQUEST_SOURCE = `function handler(event) {
  var request = event.request;
  var headers = request.headers;
  headers['x-forwarded-host'] = { value: event.context.distributionDomainName };
  if (/\\/info\\.json$/.test(request.uri)) {
    var accept = headers.accept ? String(headers.accept.value).toLowerCase() : '';
    if (accept.indexOf('application/ld+json') === -1) {
      headers.accept = { value: 'application/json' };
    } else if (request.uri.indexOf('/iiif/3/') === 0) {
      headers.accept = { value: 'application/ld+json;profile="http://iiif.io/api/image/3/context.json"' };
    } else {
      headers.accept = { value: 'application/ld+json' };
    }
  } else {
    delete headers.accept;
  }
  return request;
}
`;
