import type { AppContext } from '../app-context.ts';
import { tooLong } from '../errors.ts';
import { corsHeaders } from '../http/cors.ts';
import { deadlines } from '../http/deadlines.ts';
import { errorAnswer } from '../http/errors.ts';
import { publicBase, type RequestView } from '../http/public-base.ts';
import { requestUrl } from '../http/request-url.ts';
import { securityHeaderList } from '../http/security-headers.ts';
import { splitIiifPath } from '../iiif/path.ts';
import { planImage } from '../iiif/plan.ts';
import { parseImageRequest } from '../iiif/request.ts';
import type { IiifPath, IiifVersion } from '../iiif/types.ts';
import { tileBuffers } from '../image/tile-buffers.ts';
import { alignedTile } from '../image/tile-passthrough.ts';
import { logRequest, roundMs } from '../log/request-log.ts';
import type { RequestRecord, RouteName, ServedBy } from '../metrics.ts';
import { pinnedTo } from '../sources/source.ts';
import { bodiless, validatorHeaders } from './conditional.ts';
import { checkInputPixels, imageHead, readStoredTile, readStoredTileInto } from './image.ts';
import { infoAnswer } from './info.ts';

/** A request as the direct answers see it: no Request object is built for it. */
export interface DirectRequest {
  method: string;
  /** Absolute, as the runtime would hand it to Hono. */
  url: string;
  /** A request header by lower-case name. */
  header(name: string): string | undefined;
}

export interface DirectAnswer {
  status: number;
  headers: Array<[string, string]>;
  body?: Uint8Array;
  /** Called by an adapter that knows when the body has been written: its buffer is then used again. */
  release?: () => void;
}

/** Undefined, at once or once looked into, when Hono must answer the request. */
export type DirectAnswers = (request: DirectRequest) => Promise<DirectAnswer | undefined> | undefined;

// URLs that @hono/node-server (its src/url.ts) and a Request (WHATWG URL parsing, as Hono's Lambda
// adapter builds one) take as they come: any other is normalised or refused there, so Hono answers it.
const PLAIN_HOST = /^[a-z0-9._-]+(?::(?:[1-5]\d{3,4}|[6-9]\d{3}))?$/;
const PLAIN_PATH = /^\/[!#$&-;=?-[\]_a-z~]*$/;
const DOT_SEGMENT = /\/\.\.?(?:[/?#]|$)/;

/** Whether an adapter may hand this host and path (query included) to the direct answers. */
export const plainTarget = (host: string, path: string): boolean => PLAIN_HOST.test(host) && PLAIN_PATH.test(path) && !DOT_SEGMENT.test(path);

type Target = Extract<IiifPath, { kind: 'info' | 'image' }>;

const UTF8 = new TextEncoder();

interface Outcome {
  status: number;
  headers: Array<[string, string]>;
  body?: Uint8Array;
  release?: () => void;
  servedBy: ServedBy;
  sourceMs: number;
}

const PREFLIGHT_HEADERS = ['x-preflight-location', 'x-preflight-dimensions'];

/**
 * The two answers a viewer asks for most, a stored tile passed through and info.json of a local
 * image, made without Hono's per-request objects (Request, Context, Headers, Response), which cost
 * about as much CPU as the tile itself. The headers, body and log line are the Hono routes' own:
 * built by the same functions (./image.ts, ./info.ts, the CORS and security header lists) and
 * compared in test/e2e/direct-answers.test.ts. Anything else (a render, a redirect, any error, a
 * query string, a percent-encoded path, a remote source) is left to Hono, which then answers the
 * request from the start. Undefined when this deployment has nothing to answer directly.
 */
export function directAnswers(app: AppContext): DirectAnswers | undefined {
  const { config } = app;
  // Remote reads need an AbortSignal per request; a raw `/` in identifiers needs a stat to split paths.
  if (!app.source.local || config.IIIF_RAW_SLASH_IDS) return undefined;
  const security = securityHeaderList(config.IIIF_SECURITY_HEADERS);
  const cors = corsHeaders(config);
  const prefix = `${config.IIIF_PREFIX}/`;
  const slashSubstitute = config.IIIF_SLASH_SUBSTITUTE;
  // The request timeout, as Hono's timeout middleware applies it: the late answer is dropped.
  const timeouts = deadlines(config.IIIF_REQUEST_TIMEOUT_MS);
  const buffers = tileBuffers();

  const view = (request: DirectRequest): RequestView => ({ url: request.url, headers: { get: (name) => request.header(name) ?? null } });

  async function answer(request: DirectRequest, version: IiifVersion, target: Target): Promise<Outcome | undefined> {
    const started = performance.now();
    const { object, geometry } = await app.resolveStored(target.identifier, undefined, target.kind === 'info');
    const statMs = performance.now() - started;
    const validators = (etag: string) => validatorHeaders(etag, object.lastModified);

    if (target.kind === 'info') {
      const base = `${publicBase(view(request), config)}${config.IIIF_PREFIX}/${version}`;
      const info = infoAnswer(app, version, `${base}/${app.emitIdentifier(target.identifier)}`, object, request.header('accept'));
      const headers = [...info.headers, ...validators(info.etag)];
      const empty = bodiless(request.method, request.header, info.etag, object.lastModified);
      if (empty) return { status: empty === '304' ? 304 : 200, headers, servedBy: empty, sourceMs: statMs };
      return { status: 200, headers, body: info.body(geometry), servedBy: 'info', sourceMs: statMs };
    }

    const plan = planImage(parseImageRequest(version, target.params), geometry, app.limits);
    const tile = alignedTile(plan, geometry);
    if (!tile) return undefined;
    checkInputPixels(plan, geometry, config.IIIF_MAX_INPUT_PIXELS);
    const head = imageHead(app, version, target.identifier, plan, object.etag, publicBase(view(request), config));
    const headers = [...head.headers, ...validators(head.etag)];
    const empty = bodiless(request.method, request.header, head.etag, object.lastModified);
    const timing = (more: string) => `source;dur=${statMs.toFixed(1)};desc="stat and probe",${more}total;dur=${(performance.now() - started).toFixed(1)};desc="total"`;
    if (empty) {
      headers.push(['Server-Timing', timing('')]);
      return { status: empty === '304' ? 304 : 200, headers, servedBy: empty, sourceMs: statMs };
    }
    const reading = performance.now();
    const source = pinnedTo(app.source, object);
    const pooled = await readStoredTileInto(source, target.identifier, geometry, tile, buffers);
    const body = pooled?.jpeg ?? (await readStoredTile(app, source, target.identifier, object.etag, geometry, tile, undefined));
    if (!body) return undefined;
    const readMs = performance.now() - reading;
    headers.push(['Server-Timing', timing(`read;dur=${readMs.toFixed(1)};desc="stored tile read",path;desc="passthrough",`)]);
    return { status: 200, headers, body, release: pooled?.release, servedBy: 'passthrough', sourceMs: statMs + readMs };
  }

  return (request) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return undefined;
    if (PREFLIGHT_HEADERS.some((name) => request.header(name) !== undefined)) return undefined;
    const { pathname } = requestUrl(request.url);
    if (!pathname.startsWith(prefix) || pathname.includes('%') || request.url.includes('?')) return undefined;
    const version = pathname.startsWith('3/', prefix.length) ? 3 : pathname.startsWith('2/', prefix.length) ? 2 : undefined;
    if (version === undefined) return undefined;
    let target: Target;
    try {
      const split = splitIiifPath(pathname.slice(prefix.length + 2), { slashSubstitute, version });
      if (split.kind === 'base') return undefined;
      target = split;
    } catch {
      return undefined;
    }
    const route: RouteName = target.kind;
    const started = performance.now();
    let timedOut = false;
    const log = (status: number, servedBy: ServedBy, bytes: number, sourceMs?: number, failure?: unknown) => {
      const record: RequestRecord = { method: request.method, path: pathname, route, status, servedBy, durationMs: roundMs(performance.now() - started), bytes };
      if (sourceMs !== undefined) record.sourceMs = roundMs(sourceMs);
      logRequest(app.logger, app.metrics, record, failure);
    };
    const finish = (outcome: Outcome | undefined): DirectAnswer | undefined => {
      if (!outcome || timedOut) return undefined;
      log(outcome.status, outcome.servedBy, outcome.body?.byteLength ?? 0, outcome.sourceMs);
      return { status: outcome.status, headers: [...security, ...cors(request.header('origin')), ...outcome.headers], body: outcome.body, release: outcome.release };
    };
    // Any failure is Hono's to answer, with its error body and log line.
    const answered = answer(request, version, target).then(finish, () => undefined);
    return timeouts.race(answered, () => {
      timedOut = true;
      const e = tooLong();
      const { headers, body } = errorAnswer(e, config);
      const bytes = UTF8.encode(body);
      log(e.status, e.code, bytes.byteLength, undefined, e);
      // Image answers carry Server-Timing, errors included; info.json of local images does not (src/app.ts).
      const timing: Array<[string, string]> = route === 'image' ? [['Server-Timing', `total;dur=${(performance.now() - started).toFixed(1)};desc="total"`]] : [];
      return { status: e.status, headers: [...security, ...cors(request.header('origin')), ...headers, ...timing], body: bytes };
    });
  };
}
