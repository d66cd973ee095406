import { Aws, CfnCondition, CfnMapping, CfnParameter, CfnRule, Fn, Stack, type StackProps, Token } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import type * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { IiifEdge, type InvokeModeName, type LambdaArchitecture } from './iiif-edge-construct.ts';
import { addIiifEdgeOutputs } from './outputs.ts';
import { requestDeadlineMs } from './props.ts';
import { PARAMETER_GROUPS, PARAMETERS, TIMEOUTS } from './template-parameters.ts';

/** CloudFront's fixed hosted zone id for alias records that point at a distribution. */
const CLOUDFRONT_ZONE_ID = 'Z2FDTNDATAQYW2';

/**
 * The stack behind the committed CloudFormation template (template/iiif-edge.template.json), for
 * people who deploy without CDK. Every setting is a CloudFormation parameter and the code comes from
 * a zip in S3, so the template needs no CDK bootstrap. Optional settings are CloudFormation
 * conditions; the few that the L2 constructs cannot express as tokens are set on the L1 resources.
 */
export class IiifEdgeTemplateStack extends Stack {
  readonly edge: IiifEdge;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const p = Object.fromEntries(
      Object.entries(PARAMETERS).map(([name, spec]) => [name, new CfnParameter(this, name, spec)]),
    ) as Record<keyof typeof PARAMETERS, CfnParameter>;
    const str = (name: keyof typeof PARAMETERS) => p[name].valueAsString;
    const cond = (id: string, expression: ReturnType<typeof Fn.conditionEquals>) => new CfnCondition(this, id, { expression });
    const notEmpty = (id: string, value: string) => cond(id, Fn.conditionNot(Fn.conditionEquals(value, '')));
    const orNothing = (c: CfnCondition, value: unknown) => Fn.conditionIf(c.logicalId, value, Aws.NO_VALUE).toString();

    // Rules allow Fn::Select but not Fn::Join; an empty CommaDelimitedList is [''].
    const firstAlternate = Fn.select(0, p.AlternateDomainNames.valueAsList);
    const isStreaming = cond('IsResponseStream', Fn.conditionEquals(str('InvokeMode'), 'RESPONSE_STREAM'));
    const hasForceHost = notEmpty('HasForceHost', str('ForceHost'));
    const hasDomain = notEmpty('HasDomainName', str('DomainName'));
    const hasAlternates = notEmpty('HasAlternateDomainNames', firstAlternate);
    const hasPublicBase = cond('HasPublicBaseUrl', Fn.conditionOr(hasForceHost, hasDomain));
    const hasWebAcl = notEmpty('HasWebAcl', str('WebAclArn'));
    const hasPrefix = notEmpty('HasSourcePrefix', str('SourcePrefix'));
    const hasReserved = cond('HasReservedConcurrency', Fn.conditionNot(Fn.conditionEquals(str('ReservedConcurrency'), '0')));
    const originInKey = cond('CorsOriginInCacheKey', Fn.conditionNot(Fn.conditionEquals(str('CorsAllowOrigin'), '*')));
    const hasCertificateArn = notEmpty('HasCertificateArn', str('CertificateArn'));
    const hasZone = cond('HasHostedZone', Fn.conditionAnd(notEmpty('HasHostedZoneId', str('HostedZoneId')), hasDomain));
    const issueCertificate = cond('IssueCertificate', Fn.conditionAnd(hasZone, Fn.conditionNot(hasCertificateArn)));

    new CfnRule(this, 'DomainNameNeedsCertificate', {
      ruleCondition: Fn.conditionNot(Fn.conditionEquals(str('DomainName'), '')),
      assertions: [{
        assert: Fn.conditionOr(
          Fn.conditionNot(Fn.conditionEquals(str('CertificateArn'), '')),
          Fn.conditionNot(Fn.conditionEquals(str('HostedZoneId'), '')),
        ),
        assertDescription: 'DomainName needs CertificateArn (an ACM certificate in us-east-1) or HostedZoneId (a certificate is then issued)',
      }],
    });
    new CfnRule(this, 'IssuedCertificateCoversDomainNameOnly', {
      ruleCondition: Fn.conditionAnd(
        Fn.conditionNot(Fn.conditionEquals(str('HostedZoneId'), '')),
        Fn.conditionEquals(str('CertificateArn'), ''),
      ),
      assertions: [{
        assert: Fn.conditionEquals(firstAlternate, ''),
        assertDescription: 'AlternateDomainNames need CertificateArn: the certificate issued with HostedZoneId covers DomainName only',
      }],
    });
    new CfnRule(this, 'CorsCredentialsNeedExplicitOrigin', {
      ruleCondition: Fn.conditionEquals(str('CorsAllowCredentials'), 'true'),
      assertions: [{
        assert: Fn.conditionNot(Fn.conditionEquals(str('CorsAllowOrigin'), '*')),
        assertDescription: 'CorsAllowCredentials=true needs CorsAllowOrigin REFLECT_ORIGIN or a list of origins',
      }],
    });
    new CfnRule(this, 'AlternateDomainNamesNeedDomainName', {
      ruleCondition: Fn.conditionNot(Fn.conditionEquals(firstAlternate, '')),
      assertions: [{
        assert: Fn.conditionNot(Fn.conditionEquals(str('DomainName'), '')),
        assertDescription: 'AlternateDomainNames need DomainName (the primary public host)',
      }],
    });

    this.edge = new IiifEdge(this, 'IiifEdge', {
      code: lambda.Code.fromBucket(s3.Bucket.fromBucketName(this, 'CodeBucket', str('CodeS3Bucket')), str('CodeS3Key')),
      handler: Fn.conditionIf(isStreaming.logicalId, 'index.streamHandler', 'index.handler').toString(),
      architecture: str('Architecture') as LambdaArchitecture,
      invokeMode: str('InvokeMode') as InvokeModeName,
      memorySize: p.MemorySize.valueAsNumber,
      timeoutSeconds: p.Timeout.valueAsNumber,
      reservedConcurrency: Token.asNumber(Fn.conditionIf(hasReserved.logicalId, p.ReservedConcurrency.valueAsNumber, Aws.NO_VALUE)),
      logRetention: p.LogRetentionDays.valueAsNumber,
      priceClass: str('PriceClass') as cloudfront.PriceClass,
      webAclArn: orNothing(hasWebAcl, str('WebAclArn')),
      sourceBucket: str('SourceBucket'),
      sourcePrefix: str('SourcePrefix'), // IAM: arn:...:bucket/<prefix>* (an empty prefix gives bucket/*)
      resolverTemplate: str('ResolverTemplate'),
      cors: { allowOrigin: '*' }, // the cache-key choice is overridden below with a condition
    });

    const https = (host: string) => Fn.join('', ['https://', host]);
    const explicitBase = Fn.conditionIf(hasForceHost.logicalId, https(str('ForceHost')), https(str('DomainName')));
    const fn = this.edge.function;
    fn.addEnvironment('IIIF_PUBLIC_BASE_URL', orNothing(hasPublicBase, explicitBase));
    fn.addEnvironment('IIIF_TRUST_FORWARDED', Fn.conditionIf(hasPublicBase.logicalId, 'false', 'true').toString());
    fn.addEnvironment('IIIF_S3_PREFIX', orNothing(hasPrefix, str('SourcePrefix')));
    fn.addEnvironment('IIIF_S3_REGION', orNothing(notEmpty('HasSourceBucketRegion', str('SourceBucketRegion')), str('SourceBucketRegion')));
    fn.addEnvironment('IIIF_CORS_ALLOW_ORIGIN', str('CorsAllowOrigin'));
    fn.addEnvironment('IIIF_CORS_ALLOW_HEADERS', str('CorsAllowHeaders'));
    fn.addEnvironment('IIIF_CORS_ALLOW_CREDENTIALS', str('CorsAllowCredentials'));
    fn.addEnvironment('IIIF_CORS_EXPOSE_HEADERS', str('CorsExposeHeaders'));
    fn.addEnvironment('IIIF_CORS_MAX_AGE', str('CorsMaxAge'));
    const optional = [['MaxWidth', 'IIIF_MAX_WIDTH'], ['MaxHeight', 'IIIF_MAX_HEIGHT'], ['MaxArea', 'IIIF_MAX_AREA'],
      ['PixelDensity', 'IIIF_DENSITY'], ['Rights', 'IIIF_RIGHTS'], ['SlashSubstitute', 'IIIF_SLASH_SUBSTITUTE']] as const;
    for (const [param, env] of optional) fn.addEnvironment(env, orNothing(notEmpty(`Has${param}`, str(param)), str(param)));
    const always = [['JpegQuality', 'IIIF_JPEG_QUALITY'], ['JpegOptimizeCoding', 'IIIF_JPEG_OPTIMIZE_CODING'], ['CacheControlImage', 'IIIF_CACHE_CONTROL_IMAGE'],
      ['CacheControlInfo', 'IIIF_CACHE_CONTROL_INFO'], ['CacheControlError', 'IIIF_CACHE_CONTROL_ERROR'],
      ['SecurityHeaders', 'IIIF_SECURITY_HEADERS'], ['Preflight', 'IIIF_PREFLIGHT'], ['RawSlashIds', 'IIIF_RAW_SLASH_IDS']] as const;
    for (const [param, env] of always) fn.addEnvironment(env, str(param));
    // CloudFormation has no arithmetic: the deadline for each offered Timeout is looked up.
    const deadlines = new CfnMapping(this, 'RequestDeadline', {
      mapping: Object.fromEntries(TIMEOUTS.map((t) => [String(t), { Ms: String(requestDeadlineMs(t)) }])),
    });
    fn.addEnvironment('IIIF_REQUEST_TIMEOUT_MS', deadlines.findInMap(str('Timeout'), 'Ms'));

    const cachePolicy = this.edge.cachePolicy.node.defaultChild as cloudfront.CfnCachePolicy;
    cachePolicy.addPropertyOverride(
      'CachePolicyConfig.ParametersInCacheKeyAndForwardedToOrigin.HeadersConfig.Headers',
      Fn.conditionIf(originInKey.logicalId, ['accept', 'origin'], ['accept']),
    );
    const distribution = this.edge.distribution.node.defaultChild as cloudfront.CfnDistribution;
    const aliases = Fn.conditionIf(
      hasAlternates.logicalId,
      Fn.split(',', Fn.join(',', [str('DomainName'), Fn.join(',', p.AlternateDomainNames.valueAsList)])),
      [str('DomainName')],
    );
    distribution.addPropertyOverride('DistributionConfig.Aliases', Fn.conditionIf(hasDomain.logicalId, aliases, Aws.NO_VALUE));
    const ifDomain = (value: unknown, otherwise: unknown = Aws.NO_VALUE) => Fn.conditionIf(hasDomain.logicalId, value, otherwise);
    const issued = new acm.CfnCertificate(this, 'Certificate', {
      domainName: str('DomainName'),
      validationMethod: 'DNS',
      domainValidationOptions: [{ domainName: str('DomainName'), hostedZoneId: str('HostedZoneId') }],
    });
    issued.cfnOptions.condition = issueCertificate;
    distribution.addPropertyOverride('DistributionConfig.ViewerCertificate', {
      AcmCertificateArn: ifDomain(Fn.conditionIf(hasCertificateArn.logicalId, str('CertificateArn'), issued.ref)),
      SslSupportMethod: ifDomain('sni-only'),
      MinimumProtocolVersion: ifDomain('TLSv1.2_2021'),
      CloudFrontDefaultCertificate: ifDomain(Aws.NO_VALUE, true),
    });

    for (const type of ['A', 'AAAA']) {
      const record = new route53.CfnRecordSet(this, `Alias${type}`, {
        hostedZoneId: str('HostedZoneId'),
        name: str('DomainName'),
        type,
        aliasTarget: { dnsName: this.edge.distribution.distributionDomainName, hostedZoneId: CLOUDFRONT_ZONE_ID },
      });
      record.cfnOptions.condition = hasZone;
    }

    const base = Fn.conditionIf(hasPublicBase.logicalId, explicitBase, https(this.edge.distribution.distributionDomainName));
    addIiifEdgeOutputs(this, this.edge, base.toString());
    this.templateOptions.metadata = { 'AWS::CloudFormation::Interface': { ParameterGroups: PARAMETER_GROUPS } };
  }
}
