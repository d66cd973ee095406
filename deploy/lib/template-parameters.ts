import type { CfnParameterProps } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { DEFAULTS } from './props.ts';

/** Function timeouts the template offers, each mapped to the app's request deadline (a list: the template size is capped). */
export const TIMEOUTS = [3, 5, 10, 15, 20, 25, 30, 40, 50, 60];

const text = (description: string, props: Partial<CfnParameterProps> = {}): CfnParameterProps =>
  ({ type: 'String', description, default: '', ...props });
// Defaults are strings: CloudFormation compares them with AllowedValues as strings (cfn-lint E2015).
const number = (description: string, props: Partial<CfnParameterProps>): CfnParameterProps =>
  ({ type: 'Number', description, ...props, ...(props.default === undefined ? {} : { default: String(props.default) }) });
const flag = (description: string, fallback = false): CfnParameterProps =>
  text(description, { default: String(fallback), allowedValues: ['true', 'false'] });
/** The app refuses a tile (512 px) larger than its output limits. */
const atLeast512 = { allowedPattern: '^(|51[2-9]|5[2-9][0-9]|[6-9][0-9]{2}|[1-9][0-9]{3,14})$', constraintDescription: 'a whole number of at least 512, or empty' };
const headerList = { allowedPattern: "^(\\*|[!#$%&'*+.^_`|~0-9A-Za-z-]+( *, *[!#$%&'*+.^_`|~0-9A-Za-z-]+)*)$", constraintDescription: '* or a comma list of header names' };
const retentionValues = Object.values(RetentionDays)
  .filter((v): v is number => typeof v === 'number' && v !== RetentionDays.INFINITE)
  .map(String);

/** CloudFormation parameters of the committed template; names follow serverless-iiif where one exists. */
export const PARAMETERS = {
  CodeS3Bucket: text('S3 bucket, in the stack\'s region, holding the zipped Lambda bundle (the contents of dist/lambda/<arch>)', { default: undefined, minLength: 3 }),
  CodeS3Key: text('Key of that zip, e.g. iiif-edge/iiif-edge-arm64.zip; it must be built for Architecture', { default: undefined, minLength: 1 }),
  SourceBucket: text('Bucket holding the source images (serverless-iiif SourceBucket); read-only access is granted to it alone', {
    default: undefined, allowedPattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$', constraintDescription: 'an S3 bucket name',
  }),
  SourcePrefix: text('Optional key prefix inside SourceBucket (e.g. images/); object access is limited to it'),
  SourceBucketRegion: text('Region of SourceBucket if it is not the stack\'s region (e.g. eu-west-1); empty: the stack\'s region', {
    allowedPattern: '^([a-z]{2}(-[a-z]+)+-[0-9])?$', constraintDescription: 'an AWS region such as eu-west-1, or empty',
  }),
  ResolverTemplate: text('serverless-iiif ResolverTemplate: every %s is replaced by the identifier to give the S3 key', {
    default: DEFAULTS.resolverTemplate, allowedPattern: '^.*%s.*$', constraintDescription: 'a key template containing %s, such as %s.tif',
  }),
  ForceHost: text('serverless-iiif ForceHost: public host[:port] for info.json ids (https is assumed). Empty: DomainName, else the CloudFront domain', {
    allowedPattern: '^([A-Za-z0-9.-]+(:[0-9]+)?)?$', constraintDescription: 'a host name, optionally with :port, without scheme',
  }),
  DomainName: text('Optional custom domain (CloudFront alias), e.g. images.example.org; needs CertificateArn', {
    allowedPattern: '^([A-Za-z0-9.-]+)?$', constraintDescription: 'a host name such as images.example.org, not a wildcard (it names the images in info.json), or empty',
  }),
  AlternateDomainNames: { type: 'CommaDelimitedList', description: 'Optional further aliases, comma separated; need DomainName', default: '' },
  CertificateArn: text('ACM certificate in us-east-1 covering DomainName and AlternateDomainNames', {
    allowedPattern: '^(arn:aws[a-z-]*:acm:us-east-1:[0-9]{12}:certificate/[0-9a-f-]+)?$', constraintDescription: 'an ACM certificate ARN in us-east-1',
  }),
  WebAclArn: text('Optional AWS WAF web ACL ARN (scope CLOUDFRONT, created in us-east-1)', {
    allowedPattern: '^(arn:aws[a-z-]*:wafv2:us-east-1:[0-9]{12}:global/webacl/[A-Za-z0-9_-]{1,128}/[0-9a-f-]{36})?$',
    constraintDescription: 'a WAFv2 web ACL ARN of scope CLOUDFRONT: arn:aws:wafv2:us-east-1:<account>:global/webacl/<name>/<id>',
  }),
  HostedZoneId: text('Optional Route 53 hosted zone of DomainName: adds A/AAAA alias records and, without CertificateArn, a DNS-validated certificate (stack in us-east-1)', {
    allowedPattern: '^(Z[A-Z0-9]{1,31})?$', constraintDescription: 'a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ',
  }),
  Architecture: text('Lambda architecture; the code zip must be built for it', { default: DEFAULTS.architecture, allowedValues: ['arm64', 'x86_64'] }),
  InvokeMode: text('Function URL invoke mode: RESPONSE_STREAM (large responses) or BUFFERED (responses up to 6 MB)', {
    default: DEFAULTS.invokeMode, allowedValues: ['RESPONSE_STREAM', 'BUFFERED'],
  }),
  MemorySize: number('Lambda memory in MB (1769 MB is one vCPU)', { default: DEFAULTS.memorySize, minValue: 128, maxValue: 10240 }),
  Timeout: number('Lambda timeout in seconds (CloudFront waits up to 60 s); the app\'s request deadline is set 2 s below it', {
    default: DEFAULTS.timeoutSeconds, allowedValues: TIMEOUTS.map(String),
  }),
  ReservedConcurrency: number('Reserved concurrency, the cost ceiling; 0 leaves the function unreserved (needed where the account concurrency quota is below this value + 100, as on some new accounts)', {
    default: DEFAULTS.reservedConcurrency, minValue: 0,
  }),
  LogRetentionDays: number('CloudWatch Logs retention in days', { default: DEFAULTS.logRetention, allowedValues: retentionValues }),
  PriceClass: text('CloudFront price class', { default: DEFAULTS.priceClass, allowedValues: ['PriceClass_100', 'PriceClass_200', 'PriceClass_All'] }),
  CorsAllowOrigin: text('Access-Control-Allow-Origin: *, REFLECT_ORIGIN, or a comma list of origins such as https://viewer.example.org', {
    default: DEFAULTS.cors.allowOrigin,
    allowedPattern: '^(\\*|REFLECT_ORIGIN|https?://[^\\s,/]+( *, *https?://[^\\s,/]+)*)$',
    constraintDescription: '*, REFLECT_ORIGIN, or origins with their scheme (https://viewer.example.org), comma separated',
  }),
  CorsAllowHeaders: text('Access-Control-Allow-Headers', { default: DEFAULTS.cors.allowHeaders, ...headerList }),
  CorsAllowCredentials: text('Access-Control-Allow-Credentials', { default: String(DEFAULTS.cors.allowCredentials), allowedValues: ['true', 'false'] }),
  CorsExposeHeaders: text('Access-Control-Expose-Headers', { default: DEFAULTS.cors.exposeHeaders, ...headerList }),
  CorsMaxAge: number('Access-Control-Max-Age in seconds', { default: DEFAULTS.cors.maxAge, minValue: 0 }),
  MaxWidth: text('Optional maximum output width in pixels (IIIF maxWidth), at least 512 (the tile size info.json offers)', atLeast512),
  MaxHeight: text('Optional maximum output height in pixels (IIIF maxHeight), at least 512 (the tile size info.json offers)', atLeast512),
  MaxArea: text('Optional maximum output area in pixels (IIIF maxArea), at least 262144 (one 512² tile)', {
    allowedPattern: '^(|26214[4-9]|2621[5-9][0-9]|262[2-9][0-9]{2}|26[3-9][0-9]{3}|2[7-9][0-9]{4}|[3-9][0-9]{5}|[1-9][0-9]{6,14})$',
    constraintDescription: 'a whole number of at least 262144, or empty',
  }),
  JpegQuality: number('JPEG quality of rendered output (IIIF_JPEG_QUALITY)', { default: 85, minValue: 1, maxValue: 100 }),
  JpegOptimizeCoding: flag('Huffman tables made for each rendered JPEG: about 5% fewer bytes, slower renders (IIIF_JPEG_OPTIMIZE_CODING)'),
  PixelDensity: text('Optional DPI written into output images, 1 to 65535 (serverless-iiif PixelDensity)', {
    allowedPattern: '^(|[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$',
    constraintDescription: 'a whole number from 1 to 65535, or empty',
  }),
  CacheControlImage: text('Cache-Control of images', { default: 'public, max-age=2592000', minLength: 1 }),
  CacheControlInfo: text('Cache-Control of info.json', { default: 'public, max-age=86400', minLength: 1 }),
  CacheControlError: text('Cache-Control of 4xx errors (5xx are never cached by the app)', { default: 'public, max-age=60', minLength: 1 }),
  Rights: text('Optional licence URL for info.json rights', { allowedPattern: '^(https?://[^ ]+)?$', constraintDescription: 'an http(s) URL, or empty' }),
  SlashSubstitute: text('Optional string that stands for / in identifiers, also in the ids the app emits (Cantaloupe slash_substitute)'),
  SecurityHeaders: flag('Stricter response headers from the app (IIIF_SECURITY_HEADERS)'),
  Preflight: flag('serverless-iiif preflight: trust x-preflight-location / x-preflight-dimensions, which only the viewer-request function can set'),
  RawSlashIds: flag('serverless-iiif compatibility: accept a raw / inside identifiers (IIIF_RAW_SLASH_IDS)'),
} satisfies Record<string, CfnParameterProps>;

export const PARAMETER_GROUPS = [
  { Label: { default: 'Code' }, Parameters: ['CodeS3Bucket', 'CodeS3Key', 'Architecture'] },
  { Label: { default: 'Images (serverless-iiif settings)' }, Parameters: ['SourceBucket', 'SourcePrefix', 'SourceBucketRegion', 'ResolverTemplate', 'ForceHost'] },
  { Label: { default: 'Domain and protection' }, Parameters: ['DomainName', 'AlternateDomainNames', 'CertificateArn', 'HostedZoneId', 'WebAclArn', 'PriceClass'] },
  { Label: { default: 'Images and caching' }, Parameters: ['JpegQuality', 'JpegOptimizeCoding', 'PixelDensity', 'CacheControlImage', 'CacheControlInfo', 'CacheControlError', 'Rights'] },
  { Label: { default: 'Compatibility' }, Parameters: ['SlashSubstitute', 'RawSlashIds', 'Preflight', 'SecurityHeaders'] },
  { Label: { default: 'Function' }, Parameters: ['InvokeMode', 'MemorySize', 'Timeout', 'ReservedConcurrency', 'LogRetentionDays', 'MaxWidth', 'MaxHeight', 'MaxArea'] },
  { Label: { default: 'CORS' }, Parameters: ['CorsAllowOrigin', 'CorsAllowHeaders', 'CorsAllowCredentials', 'CorsExposeHeaders', 'CorsMaxAge'] },
];
