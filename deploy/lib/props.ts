import type * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Token, Tokenization } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { PriceClass } from 'aws-cdk-lib/aws-cloudfront';

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
  /** ARN of a WAFv2 web ACL with scope CLOUDFRONT (created in us-east-1). */
  readonly webAclArn?: string;
  /** @default 'arm64' */
  readonly architecture?: LambdaArchitecture;
  /** Function URL invoke mode; the handler follows it (index.streamHandler / index.handler). @default 'RESPONSE_STREAM' */
  readonly invokeMode?: InvokeModeName;
  /** @default 3008 */
  readonly memorySize?: number;
  /** @default 30 */
  readonly timeoutSeconds?: number;
  /** Reserved concurrency: the cost ceiling. 0 leaves it unreserved. @default 20 */
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
  /** Function code. @default lambda.Code.fromAsset('<repo>/dist/lambda/<architecture>') */
  readonly code?: lambda.Code;
  /** Handler override (used by the CloudFormation-parameter stack). @default derived from invokeMode */
  readonly handler?: string;
}

export const DEFAULTS = {
  architecture: 'arm64' as LambdaArchitecture,
  invokeMode: 'RESPONSE_STREAM' as InvokeModeName,
  resolverTemplate: '%s',
  memorySize: 3008,
  timeoutSeconds: 30,
  reservedConcurrency: 20,
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
  // platform error. A template parameter (a token) cannot be computed with: the app default stays.
  const timeout = props.timeoutSeconds ?? DEFAULTS.timeoutSeconds;
  if (!Token.isUnresolved(timeout) && timeout > 3) env.IIIF_REQUEST_TIMEOUT_MS = String((timeout - 2) * 1000);
  if (props.sourcePrefix) env.IIIF_S3_PREFIX = props.sourcePrefix;
  if (props.sourceRegion) env.IIIF_S3_REGION = props.sourceRegion;
  if (props.maxWidth !== undefined) env.IIIF_MAX_WIDTH = Tokenization.stringifyNumber(props.maxWidth);
  if (props.maxHeight !== undefined) env.IIIF_MAX_HEIGHT = Tokenization.stringifyNumber(props.maxHeight);
  if (props.maxArea !== undefined) env.IIIF_MAX_AREA = Tokenization.stringifyNumber(props.maxArea);
  return env;
}
