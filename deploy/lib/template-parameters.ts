import type { CfnParameterProps } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { DEFAULTS } from './props.ts';

const text = (Description: string, Default = '', extra: Partial<CfnParameterProps> = {}): CfnParameterProps =>
  ({ Type: 'String', Description, Default, ...extra }) as unknown as CfnParameterProps;
const fix = (props: Record<string, unknown>): CfnParameterProps =>
  Object.fromEntries(Object.entries(props).map(([k, v]) => [k[0]!.toLowerCase() + k.slice(1), v])) as CfnParameterProps;

/** CloudFormation parameters of the committed template; names follow serverless-iiif where one exists. */
export const PARAMETERS = Object.fromEntries(Object.entries({
  CodeS3Bucket: text('S3 bucket (in the stack\'s region) holding the zipped Lambda bundle (contents of dist/lambda/<arch>)', undefined, { MinLength: 3 } as never),
  CodeS3Key: text('Key of the zip, e.g. iiif-edge/iiif-edge-arm64.zip; built for the chosen Architecture', undefined, { MinLength: 1 } as never),
  SourceBucket: text('Bucket holding the source images (serverless-iiif SourceBucket); read-only access is granted to it alone', undefined, { AllowedPattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$' } as never),
  SourcePrefix: text('Optional key prefix inside SourceBucket (e.g. images/); access is limited to it'),
  ResolverTemplate: text('serverless-iiif ResolverTemplate: every %s is replaced by the identifier', DEFAULTS.resolverTemplate, { MinLength: 2 } as never),
  ForceHost: text('serverless-iiif ForceHost: public host[:port] for info.json ids (https). Empty: DomainName, else the CloudFront domain', '', { AllowedPattern: '^([A-Za-z0-9.-]+(:[0-9]+)?)?$' } as never),
  DomainName: text('Optional custom domain (CloudFront alias), e.g. images.example.org; needs CertificateArn'),
  AlternateDomainNames: { Type: 'CommaDelimitedList', Description: 'Optional further aliases (comma separated); need DomainName', Default: '' },
  CertificateArn: text('ACM certificate ARN in us-east-1 covering DomainName (and AlternateDomainNames)', '', { AllowedPattern: '^(arn:aws[a-z-]*:acm:us-east-1:[0-9]{12}:certificate/[0-9a-f-]+)?$' } as never),
  WebAclArn: text('Optional AWS WAF web ACL ARN (scope CLOUDFRONT, in us-east-1)'),
  Architecture: text('Lambda architecture; the code zip must be built for it', DEFAULTS.architecture, { AllowedValues: ['arm64', 'x86_64'] } as never),
  InvokeMode: text('Function URL invoke mode: RESPONSE_STREAM (responses up to 200 MB) or BUFFERED (6 MB)', DEFAULTS.invokeMode, { AllowedValues: ['RESPONSE_STREAM', 'BUFFERED'] } as never),
  MemorySize: { Type: 'Number', Description: 'Lambda memory in MB (1769 MB = one vCPU)', Default: DEFAULTS.memorySize, MinValue: 128, MaxValue: 10240 },
  Timeout: { Type: 'Number', Description: 'Lambda timeout in seconds (CloudFront waits up to 60 s)', Default: DEFAULTS.timeoutSeconds, MinValue: 1, MaxValue: 60 },
  ReservedConcurrency: { Type: 'Number', Description: 'Reserved concurrency, the cost ceiling; 0 leaves it unreserved (accounts with a concurrency quota below 120)', Default: DEFAULTS.reservedConcurrency, MinValue: 0 },
  LogRetentionDays: { Type: 'Number', Description: 'CloudWatch Logs retention in days', Default: DEFAULTS.logRetention, AllowedValues: Object.values(RetentionDays).filter((v) => typeof v === 'number' && v !== RetentionDays.INFINITE).map(String) },
  PriceClass: text('CloudFront price class', DEFAULTS.priceClass, { AllowedValues: ['PriceClass_100', 'PriceClass_200', 'PriceClass_All'] } as never),
  CorsAllowOrigin: text('Access-Control-Allow-Origin: *, an origin, or REFLECT_ORIGIN', DEFAULTS.cors.allowOrigin, { MinLength: 1 } as never),
  CorsAllowHeaders: text('Access-Control-Allow-Headers', DEFAULTS.cors.allowHeaders),
  CorsAllowCredentials: text('Access-Control-Allow-Credentials', String(DEFAULTS.cors.allowCredentials), { AllowedValues: ['true', 'false'] } as never),
  CorsExposeHeaders: text('Access-Control-Expose-Headers', DEFAULTS.cors.exposeHeaders),
  CorsMaxAge: { Type: 'Number', Description: 'Access-Control-Max-Age in seconds', Default: DEFAULTS.cors.maxAge, MinValue: 0 },
  MaxWidth: text('Optional maximum output width in pixels (IIIF maxWidth)', '', { AllowedPattern: '^[0-9]*$' } as never),
  MaxHeight: text('Optional maximum output height in pixels (IIIF maxHeight)', '', { AllowedPattern: '^[0-9]*$' } as never),
  MaxArea: text('Optional maximum output area in pixels (IIIF maxArea)', '', { AllowedPattern: '^[0-9]*$' } as never),
}).map(([name, spec]) => [name, fix(spec as unknown as Record<string, unknown>)])) as Record<string, CfnParameterProps>;
