import type * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Token, Tokenization } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { PriceClass } from 'aws-cdk-lib/aws-cloudfront';
import { checkSettingValues, ConfigError, loadConfig } from '../../src/config.ts';

export type LambdaArchitecture = 'arm64' | 'x86_64';
export type InvokeModeName = 'RESPONSE_STREAM' | 'BUFFERED';

/** CORS, as serverless-iiif's CorsAllow* / CorsExposeHeaders / CorsMaxAge. */
export interface IiifEdgeCors {
  /** `*`, origins (comma separated), or `REFLECT_ORIGIN` (echo the request Origin). @default '*' */
  readonly allowOrigin?: string;
  /** @default '*' */
  readonly allowHeaders?: string;
  /** @default false */
  readonly allowCredentials?: boolean;
  /** @default 'Link, ETag, Server-Timing, Content-Length, Content-Type' (the app's default) */
  readonly exposeHeaders?: string;
  /** Seconds. @default 3600 */
  readonly maxAge?: number;
}

export interface IiifEdgeProps {
  /** Bucket holding the source images (serverless-iiif SourceBucket). Read-only access is granted to it alone. */
  readonly sourceBucket: string;
  /** Key prefix inside the bucket; access is limited to it. @default '' (whole bucket) */
  readonly sourcePrefix?: string;
  /** Region of the source bucket when it differs from the stack's. @default the stack's region */
  readonly sourceRegion?: string;
  /** serverless-iiif ResolverTemplate: every `%s` is replaced by the identifier. @default '%s' (serverless-iiif's was '%s.tif') */
  readonly resolverTemplate?: string;
  /** serverless-iiif ForceHost: `host[:port]` (https assumed) or a full base URL. Wins over domainNames. */
  readonly forceHost?: string;
  /** Custom domain names (CloudFront aliases); the first is the public host. Needs certificateArn. */
  readonly domainNames?: string[];
  /** ACM certificate in us-east-1 covering domainNames. */
  readonly certificateArn?: string;
  /** ARN of a WAFv2 web ACL with scope CLOUDFRONT (created in us-east-1): `arn:aws:wafv2:us-east-1:<account>:global/webacl/<name>/<id>`. */
  readonly webAclArn?: string;
  /**
   * Route 53 hosted zone holding domainNames: the stack then adds A/AAAA alias records for each name and,
   * without certificateArn, requests a DNS-validated ACM certificate (the stack must then be in us-east-1).
   */
  readonly hostedZone?: { readonly id: string; readonly name: string };
  /** @default 'arm64' */
  readonly architecture?: LambdaArchitecture;
  /** Function URL invoke mode; the handler follows it (index.streamHandler / index.handler). @default 'RESPONSE_STREAM' */
  readonly invokeMode?: InvokeModeName;
  /** @default 3008 */
  readonly memorySize?: number;
  /** @default 30 */
  readonly timeoutSeconds?: number;
  /** Reserved concurrency: the cost ceiling. 0 leaves it unreserved. @default 50 */
  readonly reservedConcurrency?: number;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** @default PriceClass.PRICE_CLASS_ALL */
  readonly priceClass?: cloudfront.PriceClass;
  readonly cors?: IiifEdgeCors;
  /** Output size limits (IIIF maxWidth / maxHeight / maxArea). @default unset (the app's defaults) */
  readonly maxWidth?: number;
  readonly maxHeight?: number;
  readonly maxArea?: number;
  /** App settings a team tunes; each maps to the IIIF_* variable of the same name (docs/configuration.md). */
  readonly app?: IiifEdgeAppSettings;
  /** Seconds CloudFront keeps a 500/502/503/504 (throttling, deadlines) before asking the function again. @default 1 */
  readonly errorCachingSeconds?: number;
  /**
   * ES5 source of `function preflight(event)` run by the viewer-request function after it has removed any
   * client-sent x-preflight-* headers; it may set `x-preflight-location` / `x-preflight-dimensions`. Use with app.preflight.
   */
  readonly preflightSource?: string;
  /** Function code. @default lambda.Code.fromAsset('<repo>/dist/lambda/<architecture>') */
  readonly code?: lambda.Code;
  /** Handler override (used by the CloudFormation-parameter stack). @default derived from invokeMode */
  readonly handler?: string;
}

/** App settings exposed by the stack; undefined keeps the app's default. */
export interface IiifEdgeAppSettings {
  /** IIIF_JPEG_QUALITY, 1–100. */
  readonly jpegQuality?: number;
  /** IIIF_JPEG_OPTIMIZE_CODING: Huffman tables made per rendered JPEG. */
  readonly jpegOptimizeCoding?: boolean;
  /** IIIF_DENSITY: DPI written into output images (serverless-iiif PixelDensity). */
  readonly density?: number;
  /** IIIF_CACHE_CONTROL_IMAGE / _INFO / _ERROR. */
  readonly cacheControlImage?: string;
  readonly cacheControlInfo?: string;
  readonly cacheControlError?: string;
  /** IIIF_RIGHTS: licence URL for info.json `rights`. */
  readonly rights?: string;
  /** IIIF_SLASH_SUBSTITUTE (Cantaloupe slash_substitute). */
  readonly slashSubstitute?: string;
  /** IIIF_SECURITY_HEADERS. */
  readonly securityHeaders?: boolean;
  /** IIIF_PREFLIGHT: trust x-preflight-* headers, which only the viewer-request function can set. */
  readonly preflight?: boolean;
  /** IIIF_RAW_SLASH_IDS: accept a raw `/` inside identifiers (serverless-iiif). */
  readonly rawSlashIds?: boolean;
}

export const DEFAULTS = {
  architecture: 'arm64' as LambdaArchitecture,
  invokeMode: 'RESPONSE_STREAM' as InvokeModeName,
  resolverTemplate: '%s',
  memorySize: 3008,
  timeoutSeconds: 30,
  reservedConcurrency: 50,
  errorCachingSeconds: 1,
  logRetention: logs.RetentionDays.ONE_MONTH,
  priceClass: PriceClass.PRICE_CLASS_ALL,
  cors: {
    allowOrigin: '*',
    allowHeaders: '*',
    allowCredentials: false,
    exposeHeaders: 'Link, ETag, Server-Timing, Content-Length, Content-Type',
    maxAge: 3600,
  },
} as const;

/** CORS settings with defaults filled in (undefined values keep the default). */
export function corsOf(props: Pick<IiifEdgeProps, 'cors'>): Required<IiifEdgeCors> {
  const given = Object.fromEntries(Object.entries(props.cors ?? {}).filter(([, v]) => v !== undefined));
  return { ...DEFAULTS.cors, ...given };
}

/** The explicit public base URL, or undefined when it must come from the distribution itself. */
export function publicBaseUrlOf(props: Pick<IiifEdgeProps, 'forceHost' | 'domainNames'>): string | undefined {
  if (!props.forceHost && props.domainNames?.[0]?.startsWith('*')) {
    throw new Error(`IiifEdge: a wildcard domain (${props.domainNames[0]}) cannot be the images' public base URL: list a host name first, or set forceHost`);
  }
  if (props.forceHost) {
    return props.forceHost.includes('://') ? props.forceHost.replace(/\/+$/, '') : `https://${props.forceHost}`;
  }
  const domain = props.domainNames?.[0];
  return domain ? `https://${domain}` : undefined;
}

/** Environment of the function, per the adapter contract. */
export function lambdaEnvironment(props: IiifEdgeProps): Record<string, string> {
  const cors = corsOf(props);
  const base = publicBaseUrlOf(props);
  const env: Record<string, string> = {
    IIIF_SOURCE: 's3',
    IIIF_S3_BUCKET: props.sourceBucket,
    IIIF_S3_KEY_TEMPLATE: props.resolverTemplate ?? DEFAULTS.resolverTemplate,
    // Without an explicit base URL the app takes the host from x-forwarded-host, which the
    // viewer-request CloudFront Function sets to the distribution's own domain name.
    IIIF_TRUST_FORWARDED: base === undefined ? 'true' : 'false',
    IIIF_CORS_ALLOW_ORIGIN: cors.allowOrigin,
    IIIF_CORS_ALLOW_HEADERS: cors.allowHeaders,
    IIIF_CORS_ALLOW_CREDENTIALS: String(cors.allowCredentials),
    IIIF_CORS_EXPOSE_HEADERS: cors.exposeHeaders,
    IIIF_CORS_MAX_AGE: Tokenization.stringifyNumber(cors.maxAge),
    // Whole objects that a render needs (untiled sources) stay in /tmp (512 MB by default) between requests.
    IIIF_CACHE_DIR: '/tmp',
    IIIF_CACHE_MAX_BYTES: String(400 * 1024 * 1024),
  };
  if (base !== undefined) env.IIIF_PUBLIC_BASE_URL = base;
  // The app's own deadline must fire before Lambda's, so slow requests end with a JSON 503, not a
  // platform error. The template stack maps its Timeout parameter to the same value.
  const timeout = props.timeoutSeconds ?? DEFAULTS.timeoutSeconds;
  if (!Token.isUnresolved(timeout)) env.IIIF_REQUEST_TIMEOUT_MS = String(requestDeadlineMs(timeout));
  if (props.sourcePrefix) env.IIIF_S3_PREFIX = props.sourcePrefix;
  if (props.sourceRegion) env.IIIF_S3_REGION = props.sourceRegion;
  if (props.maxWidth !== undefined) env.IIIF_MAX_WIDTH = Tokenization.stringifyNumber(props.maxWidth);
  if (props.maxHeight !== undefined) env.IIIF_MAX_HEIGHT = Tokenization.stringifyNumber(props.maxHeight);
  if (props.maxArea !== undefined) env.IIIF_MAX_AREA = Tokenization.stringifyNumber(props.maxArea);
  for (const [key, name] of Object.entries(APP_ENV) as [keyof IiifEdgeAppSettings, string][]) {
    const value = props.app?.[key];
    if (value !== undefined) env[name] = typeof value === 'number' ? Tokenization.stringifyNumber(value) : String(value);
  }
  return env;
}

/**
 * The app refuses to start on settings it cannot use, and every request then fails: refuse them
 * when the stack is synthesised instead. Values that are template parameters (tokens) are left to
 * their AllowedPattern.
 */
export function checkAppSettings(env: Record<string, string>): void {
  const entries = Object.entries(env);
  const concrete = Object.fromEntries(entries.filter(([, value]) => !Token.isUnresolved(value)));
  try {
    // With a token among them, the checks across settings would meet its default in its place:
    // only each concrete setting's own form and range are checked then.
    if (Object.keys(concrete).length === entries.length) loadConfig({ IIIF_S3_BUCKET: 'placeholder', ...concrete });
    else checkSettingValues(concrete);
  } catch (e) {
    if (e instanceof ConfigError) throw new Error(`IiifEdge: the function would not start: ${e.message}`);
    throw e;
  }
}

/** Stack app setting → the app's environment variable. */
export const APP_ENV: Record<keyof IiifEdgeAppSettings, string> = {
  jpegQuality: 'IIIF_JPEG_QUALITY',
  jpegOptimizeCoding: 'IIIF_JPEG_OPTIMIZE_CODING',
  density: 'IIIF_DENSITY',
  cacheControlImage: 'IIIF_CACHE_CONTROL_IMAGE',
  cacheControlInfo: 'IIIF_CACHE_CONTROL_INFO',
  cacheControlError: 'IIIF_CACHE_CONTROL_ERROR',
  rights: 'IIIF_RIGHTS',
  slashSubstitute: 'IIIF_SLASH_SUBSTITUTE',
  securityHeaders: 'IIIF_SECURITY_HEADERS',
  preflight: 'IIIF_PREFLIGHT',
  rawSlashIds: 'IIIF_RAW_SLASH_IDS',
};

/** The app's request deadline for a function timeout: 2 s of margin, or half a second for very short timeouts. */
export function requestDeadlineMs(timeoutSeconds: number): number {
  return timeoutSeconds > 3 ? (timeoutSeconds - 2) * 1000 : timeoutSeconds * 1000 - 500;
}

/** A WAFv2 web ACL that CloudFront accepts: scope CLOUDFRONT, which AWS keeps in us-east-1 under `global/`. */
export const CLOUDFRONT_WEB_ACL = /^arn:aws[a-z-]*:wafv2:us-east-1:[0-9]{12}:global\/webacl\/[A-Za-z0-9_-]{1,128}\/[0-9a-f-]{36}$/;
