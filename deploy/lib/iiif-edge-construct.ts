import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Aws, Duration, Fn, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as targets from 'aws-cdk-lib/aws-route53-targets';
import { Construct } from 'constructs';
import { checkAppSettings, CLOUDFRONT_WEB_ACL, corsOf, DEFAULTS, type IiifEdgeProps, lambdaEnvironment, publicBaseUrlOf } from './props.ts';
import { viewerRequestSource } from './viewer-request.ts';

/** What the function answers when throttled or past its deadline; CloudFront keeps these only briefly. */
export const SHORT_LIVED_ERRORS = [500, 502, 503, 504] as const;

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
    if (domainNames.length > 0 && !props.certificateArn && !props.hostedZone) {
      throw new Error('IiifEdge: domainNames need certificateArn (an ACM certificate in us-east-1) or hostedZone');
    }
    if (props.hostedZone && domainNames.length === 0) throw new Error('IiifEdge: hostedZone needs domainNames');
    const region = Stack.of(this).region;
    if (props.hostedZone && !props.certificateArn && !Token.isUnresolved(region) && region !== 'us-east-1') {
      throw new Error('IiifEdge: CloudFront needs its certificate in us-east-1: deploy there, or give certificateArn');
    }
    if (props.webAclArn && !Token.isUnresolved(props.webAclArn) && !CLOUDFRONT_WEB_ACL.test(props.webAclArn)) {
      throw new Error('IiifEdge: webAclArn must be a WAFv2 web ACL of scope CLOUDFRONT (arn:aws:wafv2:us-east-1:<account>:global/webacl/...)');
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

    const environment = lambdaEnvironment(props);
    checkAppSettings(environment);
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
      environment,
      description: 'iiif-edge IIIF Image API server',
    });
    this.functionUrl = this.function.addFunctionUrl({
      authType: lambda.FunctionUrlAuthType.AWS_IAM,
      invokeMode: invokeMode as lambda.InvokeMode,
    });

    this.viewerRequestFunction = new cloudfront.Function(this, 'ViewerRequest', {
      functionName: uniqueName,
      runtime: cloudfront.FunctionRuntime.JS_2_0,
      code: cloudfront.FunctionCode.fromInline(viewerRequestSource(props.preflightSource)),
      comment: 'iiif-edge: x-forwarded-host from the distribution, Accept normalised, client x-preflight-* removed',
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
    const zone = props.hostedZone
      ? route53.HostedZone.fromHostedZoneAttributes(this, 'Zone', { hostedZoneId: props.hostedZone.id, zoneName: props.hostedZone.name })
      : undefined;
    const certificate = props.certificateArn
      ? acm.Certificate.fromCertificateArn(this, 'Certificate', props.certificateArn)
      : zone
        ? new acm.Certificate(this, 'Certificate', {
          domainName: domainNames[0]!,
          subjectAlternativeNames: domainNames.slice(1),
          validation: acm.CertificateValidation.fromDns(zone),
        })
        : undefined;
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
      certificate,
      minimumProtocolVersion: certificate ? cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 : undefined,
      // Throttling (the function at its reserved concurrency) and deadlines must not stick in the cache
      // for CloudFront's default 10 s: ask the function again after a second (docs/deploy-aws.md).
      errorResponses: SHORT_LIVED_ERRORS.map((httpStatus) => ({
        httpStatus,
        ttl: Duration.seconds(props.errorCachingSeconds ?? DEFAULTS.errorCachingSeconds),
      })),
    });
    if (zone) {
      domainNames.forEach((recordName, i) => {
        const target = route53.RecordTarget.fromAlias(new targets.CloudFrontTarget(this.distribution));
        new route53.ARecord(this, `AliasA${i}`, { zone, recordName, target });
        new route53.AaaaRecord(this, `AliasAAAA${i}`, { zone, recordName, target });
      });
    }
    this.publicBaseUrl = publicBaseUrlOf(props) ?? `https://${this.distribution.distributionDomainName}`;
  }
}
