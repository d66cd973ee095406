import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Aws, Duration, Fn, RemovalPolicy, Token } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { corsOf, DEFAULTS, type IiifEdgeProps, lambdaEnvironment, publicBaseUrlOf } from './props.ts';
import { VIEWER_REQUEST_SOURCE } from './viewer-request.ts';

export * from './props.ts';

/** `dist/lambda/<arch>` at the repository root, where `npm run build:lambda` writes the bundle. */
export function lambdaBundleDir(arch: string): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'lambda', arch);
}

/**
 * iiif-edge on AWS: Lambda (IAM-authenticated Function URL) behind CloudFront with Origin Access
 * Control, read-only access to one S3 bucket, and a public base URL that is right on first deploy.
 */
export class IiifEdge extends Construct {
  readonly function: lambda.Function;
  readonly functionUrl: lambda.FunctionUrl;
  readonly distribution: cloudfront.Distribution;
  readonly cachePolicy: cloudfront.CachePolicy;
  readonly viewerRequestFunction: cloudfront.Function;
  readonly logGroup: logs.LogGroup;
  /** Public base URL (scheme and host, no trailing slash); IIIF lives at `{base}/iiif/2` and `/iiif/3`. */
  readonly publicBaseUrl: string;

  constructor(scope: Construct, id: string, props: IiifEdgeProps) {
    super(scope, id);
    const arch = props.architecture ?? DEFAULTS.architecture;
    const invokeMode = props.invokeMode ?? DEFAULTS.invokeMode;
    const domainNames = props.domainNames ?? [];
    if (domainNames.length > 0 && !props.certificateArn) {
      throw new Error('IiifEdge: domainNames need certificateArn (an ACM certificate in us-east-1)');
    }
    if (props.certificateArn && !Token.isUnresolved(props.certificateArn) && !/^arn:[\w-]+:acm:us-east-1:/.test(props.certificateArn)) {
      throw new Error('IiifEdge: CloudFront needs the ACM certificate in us-east-1');
    }
    const cors = corsOf(props);
    if (cors.allowCredentials && cors.allowOrigin === '*') {
      throw new Error('IiifEdge: cors.allowCredentials needs cors.allowOrigin REFLECT_ORIGIN or a list of origins');
    }
    // CloudFront names (functions, policies, OAC) are unique per account: derive them from the stack id.
    const uniqueName = `iiif-${this.node.addr.slice(0, 8)}-${Fn.select(2, Fn.split('/', Aws.STACK_ID))}`;

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? DEFAULTS.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // A role of our own instead of AWSLambdaBasicExecutionRole (whose logs grant is on "*").
    const role = new iam.Role(this, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    this.logGroup.grantWrite(role);
    const prefix = props.sourcePrefix ?? '';
    const bucketArn = `arn:${Aws.PARTITION}:s3:::${props.sourceBucket}`;
    role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [`${bucketArn}/${prefix}*`] }));
    // ListBucket lets S3 answer 404 (not 403) for a missing image; it exposes key names, not content.
    role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucketArn] }));

    const reserved = props.reservedConcurrency ?? DEFAULTS.reservedConcurrency;
    this.function = new lambda.Function(this, 'Function', {
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: Token.isUnresolved(arch)
        ? lambda.Architecture.custom(arch)
        : arch === 'x86_64' ? lambda.Architecture.X86_64 : lambda.Architecture.ARM_64,
      code: props.code ?? lambda.Code.fromAsset(lambdaBundleDir(arch)),
      handler: props.handler ?? (invokeMode === 'RESPONSE_STREAM' ? 'index.streamHandler' : 'index.handler'),
      memorySize: props.memorySize ?? DEFAULTS.memorySize,
      timeout: Duration.seconds(props.timeoutSeconds ?? DEFAULTS.timeoutSeconds),
      reservedConcurrentExecutions: reserved === 0 ? undefined : reserved,
      role,
      logGroup: this.logGroup,
      environment: lambdaEnvironment(props),
      description: 'iiif-edge IIIF Image API server',
    });
    this.functionUrl = this.function.addFunctionUrl({
      authType: lambda.FunctionUrlAuthType.AWS_IAM,
      invokeMode: invokeMode as lambda.InvokeMode,
    });

    this.viewerRequestFunction = new cloudfront.Function(this, 'ViewerRequest', {
      functionName: uniqueName,
      runtime: cloudfront.FunctionRuntime.JS_2_0,
      code: cloudfront.FunctionCode.fromInline(VIEWER_REQUEST_SOURCE),
      comment: 'iiif-edge: x-forwarded-host from the distribution, Accept normalised for the cache key',
    });
    this.cachePolicy = new cloudfront.CachePolicy(this, 'CachePolicy', {
      cachePolicyName: uniqueName,
      comment: 'iiif-edge: honour origin Cache-Control; key on normalised Accept; no query strings',
      minTtl: Duration.seconds(0),
      defaultTtl: Duration.days(1),
      maxTtl: Duration.days(365),
      // A reflected CORS origin makes responses vary by Origin, so Origin must then be in the key.
      headerBehavior: cors.allowOrigin === '*'
        ? cloudfront.CacheHeaderBehavior.allowList('accept')
        : cloudfront.CacheHeaderBehavior.allowList('accept', 'origin'),
      queryStringBehavior: cloudfront.CacheQueryStringBehavior.none(),
      cookieBehavior: cloudfront.CacheCookieBehavior.none(),
      enableAcceptEncodingGzip: true,
      enableAcceptEncodingBrotli: true,
    });
    const oac = new cloudfront.FunctionUrlOriginAccessControl(this, 'OriginAccessControl', {
      originAccessControlName: uniqueName,
      signing: cloudfront.Signing.SIGV4_ALWAYS,
    });
    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: 'iiif-edge IIIF Image API',
      defaultBehavior: {
        // Adds the two Lambda permissions (InvokeFunctionUrl, InvokeFunction via URL) scoped to this distribution.
        origin: origins.FunctionUrlOrigin.withOriginAccessControl(this.functionUrl, {
          originAccessControl: oac,
          readTimeout: Duration.seconds(60),
        }),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD_OPTIONS,
        cachedMethods: cloudfront.CachedMethods.CACHE_GET_HEAD,
        compress: true,
        cachePolicy: this.cachePolicy,
        originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
        responseHeadersPolicy: cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS,
        functionAssociations: [
          { eventType: cloudfront.FunctionEventType.VIEWER_REQUEST, function: this.viewerRequestFunction },
        ],
      },
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      enableIpv6: true,
      priceClass: props.priceClass ?? DEFAULTS.priceClass,
      webAclId: props.webAclArn,
      domainNames: domainNames.length > 0 ? domainNames : undefined,
      certificate: props.certificateArn
        ? acm.Certificate.fromCertificateArn(this, 'Certificate', props.certificateArn)
        : undefined,
      minimumProtocolVersion: props.certificateArn ? cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 : undefined,
    });
    this.publicBaseUrl = publicBaseUrlOf(props) ?? `https://${this.distribution.distributionDomainName}`;
  }
}
