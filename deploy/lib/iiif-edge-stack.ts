import { Aws, CfnCondition, CfnParameter, CfnRule, Fn, Stack, type StackProps, Token } from 'aws-cdk-lib';
import type * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { IiifEdge, type InvokeModeName, type LambdaArchitecture } from './iiif-edge-construct.ts';
import { addIiifEdgeOutputs } from './outputs.ts';
import { PARAMETER_GROUPS, PARAMETERS } from './template-parameters.ts';

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

    new CfnRule(this, 'DomainNameNeedsCertificate', {
      ruleCondition: Fn.conditionNot(Fn.conditionEquals(str('DomainName'), '')),
      assertions: [{
        assert: Fn.conditionNot(Fn.conditionEquals(str('CertificateArn'), '')),
        assertDescription: 'DomainName needs CertificateArn (an ACM certificate in us-east-1)',
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
    for (const [param, env] of [['MaxWidth', 'IIIF_MAX_WIDTH'], ['MaxHeight', 'IIIF_MAX_HEIGHT'], ['MaxArea', 'IIIF_MAX_AREA']] as const) {
      fn.addEnvironment(env, orNothing(notEmpty(`Has${param}`, str(param)), str(param)));
    }

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
    distribution.addPropertyOverride('DistributionConfig.ViewerCertificate', {
      AcmCertificateArn: ifDomain(str('CertificateArn')),
      SslSupportMethod: ifDomain('sni-only'),
      MinimumProtocolVersion: ifDomain('TLSv1.2_2021'),
      CloudFrontDefaultCertificate: ifDomain(Aws.NO_VALUE, true),
    });

    const base = Fn.conditionIf(hasPublicBase.logicalId, explicitBase, https(this.edge.distribution.distributionDomainName));
    addIiifEdgeOutputs(this, this.edge, base.toString());
    this.templateOptions.metadata = { 'AWS::CloudFormation::Interface': { ParameterGroups: PARAMETER_GROUPS } };
  }
}
