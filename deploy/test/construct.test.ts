import { Match } from 'aws-cdk-lib/assertions';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { beforeAll, describe, expect, it } from 'vitest';
import { iamStatements, type Json, only, resourcesOfType, synthEdge } from './helpers.ts';
import { App, CfnParameter, Stack } from 'aws-cdk-lib';
import { checkAppSettings, lambdaEnvironment } from '../lib/props.ts';

const ALL_VIEWER_EXCEPT_HOST = 'b689b0a8-53d0-40ab-baf2-68738e2966ac'; // Managed-AllViewerExceptHostHeader
const SECURITY_HEADERS = '67f7725c-6f97-4210-82d7-5512b31e9d03'; // Managed-SecurityHeadersPolicy

const WEB_ACL = 'arn:aws:wafv2:us-east-1:111111111111:global/webacl/w/a1b2c3d4-5678-90ab-cdef-0123456789ab';
const distributionConfig = (json: Json) => only(json, 'AWS::CloudFront::Distribution')[1].Properties.DistributionConfig;
const functionProps = (json: Json) => only(json, 'AWS::Lambda::Function')[1].Properties;
const env = (json: Json) => functionProps(json).Environment.Variables;

describe('IiifEdge construct, defaults', () => {
  let json: Json;
  let distributionId: string;
  let functionId: string;
  beforeAll(() => {
    json = synthEdge().json;
    distributionId = only(json, 'AWS::CloudFront::Distribution')[0];
    functionId = only(json, 'AWS::Lambda::Function')[0];
  });

  it('creates a nodejs22.x arm64 function streaming through an IAM-authenticated Function URL', () => {
    expect(functionProps(json)).toMatchObject({
      Runtime: 'nodejs22.x', Architectures: ['arm64'], Handler: 'index.streamHandler', MemorySize: 3008, Timeout: 30,
    });
    const url = only(json, 'AWS::Lambda::Url')[1].Properties;
    expect(url.AuthType).toBe('AWS_IAM');
    expect(url.InvokeMode).toBe('RESPONSE_STREAM');
    expect(url.TargetFunctionArn).toEqual({ 'Fn::GetAtt': [functionId, 'Arn'] });
  });

  it('sets reserved concurrency and a log group with retention', () => {
    expect(functionProps(json).ReservedConcurrentExecutions).toBe(50);
    const [logId, log] = only(json, 'AWS::Logs::LogGroup');
    expect(log.Properties.RetentionInDays).toBe(30);
    expect(functionProps(json).LoggingConfig.LogGroup).toEqual({ Ref: logId });
  });

  it('attaches a lambda Origin Access Control that always signs', () => {
    const [oacId, oac] = only(json, 'AWS::CloudFront::OriginAccessControl');
    expect(oac.Properties.OriginAccessControlConfig).toMatchObject({
      OriginAccessControlOriginType: 'lambda', SigningBehavior: 'always', SigningProtocol: 'sigv4',
    });
    const origins = distributionConfig(json).Origins;
    expect(origins).toHaveLength(1);
    expect(origins[0].OriginAccessControlId).toEqual({ 'Fn::GetAtt': [oacId, 'Id'] });
    expect(JSON.stringify(origins[0].DomainName)).toContain('FunctionUrl');
  });

  it('never forwards the viewer Host to the origin', () => {
    const behaviors = [distributionConfig(json).DefaultCacheBehavior, ...(distributionConfig(json).CacheBehaviors ?? [])];
    for (const b of behaviors) expect(b.OriginRequestPolicyId).toBe(ALL_VIEWER_EXCEPT_HOST);
    expect(resourcesOfType(json, 'AWS::CloudFront::OriginRequestPolicy')).toEqual([]);
    for (const [, policy] of resourcesOfType(json, 'AWS::CloudFront::CachePolicy')) {
      const headers = policy.Properties.CachePolicyConfig.ParametersInCacheKeyAndForwardedToOrigin.HeadersConfig;
      expect((headers.Headers ?? []).map((h: string) => h.toLowerCase())).not.toContain('host');
    }
  });

  it('lets only this distribution invoke the function (InvokeFunctionUrl and InvokeFunction)', () => {
    const permissions = resourcesOfType(json, 'AWS::Lambda::Permission').map(([, p]) => p.Properties);
    expect(permissions.map((p) => p.Action).sort()).toEqual(['lambda:InvokeFunction', 'lambda:InvokeFunctionUrl']);
    const sourceArn = {
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':cloudfront::', { Ref: 'AWS::AccountId' }, ':distribution/', { Ref: distributionId }]],
    };
    for (const p of permissions) {
      expect(p.Principal).toBe('cloudfront.amazonaws.com');
      expect(p.SourceArn).toEqual(sourceArn);
      expect(p.FunctionName).toEqual({ 'Fn::GetAtt': [only(json, 'AWS::Lambda::Url')[0], 'FunctionArn'] });
    }
    expect(permissions.find((p) => p.Action === 'lambda:InvokeFunction')!.InvokedViaFunctionUrl).toBe(true);
  });

  it('grants read-only access to exactly the source bucket, and logs only to its own group', () => {
    const statements = iamStatements(json);
    const s3 = statements.filter((s) => [s.Action].flat().some((a: string) => a.startsWith('s3:')));
    const arn = (suffix: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:s3:::my-images${suffix}`]] });
    expect(s3).toEqual([
      { Action: 's3:GetObject', Effect: 'Allow', Resource: arn('/*') },
      { Action: 's3:ListBucket', Effect: 'Allow', Resource: arn('') },
    ]);
    const logId = only(json, 'AWS::Logs::LogGroup')[0];
    for (const s of statements.filter((st) => !s3.includes(st))) {
      expect([s.Action].flat().every((a: string) => a.startsWith('logs:'))).toBe(true);
      expect(s.Resource).toEqual({ 'Fn::GetAtt': [logId, 'Arn'] });
    }
    const role = only(json, 'AWS::IAM::Role')[1].Properties;
    expect(role.ManagedPolicyArns).toBeUndefined();
    expect(JSON.stringify(statements)).not.toMatch(/"Resource":"\*"|"Action":"s3:\*"/);
  });

  it('attaches the managed security-headers policy, HTTP/2+3, and a viewer-request function', () => {
    const config = distributionConfig(json);
    expect(config.DefaultCacheBehavior.ResponseHeadersPolicyId).toBe(SECURITY_HEADERS);
    expect(config.HttpVersion).toBe('http2and3');
    expect(config.DefaultCacheBehavior.ViewerProtocolPolicy).toBe('redirect-to-https');
    const [fnId] = only(json, 'AWS::CloudFront::Function');
    expect(config.DefaultCacheBehavior.FunctionAssociations).toEqual([
      { EventType: 'viewer-request', FunctionARN: { 'Fn::GetAtt': [fnId, 'FunctionARN'] } },
    ]);
    expect(config.WebACLId).toBeUndefined();
    expect(config.Aliases).toBeUndefined();
  });

  it('keys the cache on normalised Accept only, honouring origin Cache-Control', () => {
    const config = only(json, 'AWS::CloudFront::CachePolicy')[1].Properties.CachePolicyConfig;
    expect(config.MinTTL).toBe(0);
    const key = config.ParametersInCacheKeyAndForwardedToOrigin;
    expect(key.HeadersConfig).toEqual({ HeaderBehavior: 'whitelist', Headers: ['accept'] });
    expect(key.QueryStringsConfig).toEqual({ QueryStringBehavior: 'none' });
    expect(key.CookiesConfig).toEqual({ CookieBehavior: 'none' });
  });

  it('derives the public base URL from the distribution without a dependency cycle', () => {
    expect(env(json)).toMatchObject({ IIIF_SOURCE: 's3', IIIF_S3_BUCKET: 'my-images', IIIF_TRUST_FORWARDED: 'true' });
    expect(env(json).IIIF_PUBLIC_BASE_URL).toBeUndefined();
    // The function must not reference the distribution (distribution -> URL -> function already).
    expect(JSON.stringify(functionProps(json))).not.toContain(distributionId);
    const cfFunction = only(json, 'AWS::CloudFront::Function')[1].Properties;
    expect(cfFunction.FunctionCode).toContain("headers['x-forwarded-host'] = { value: event.context.distributionDomainName }");
    expect(cfFunction.FunctionConfig.Runtime).toBe('cloudfront-js-2.0');
  });

  it('gives the app a request deadline below the function timeout, and /tmp for whole objects', () => {
    expect(env(json)).toMatchObject({ IIIF_REQUEST_TIMEOUT_MS: '28000', IIIF_CACHE_DIR: '/tmp' });
    expect(env(synthEdge({ sourceBucket: 'my-images', timeoutSeconds: 12 }).json).IIIF_REQUEST_TIMEOUT_MS).toBe('10000');
  });

  it('outputs the IIIF base URLs, distribution id and function name', () => {
    const domain = { 'Fn::GetAtt': [distributionId, 'DomainName'] };
    expect(json.Outputs.IiifBaseUrlV2.Value).toEqual({ 'Fn::Join': ['', ['https://', domain, '/iiif/2']] });
    expect(json.Outputs.IiifBaseUrlV3.Value).toEqual({ 'Fn::Join': ['', ['https://', domain, '/iiif/3']] });
    expect(json.Outputs.DistributionId.Value).toEqual({ Ref: distributionId });
    expect(json.Outputs.FunctionName.Value).toEqual({ Ref: functionId });
    expect(JSON.stringify(json.Outputs.InvalidateCommand.Value)).toContain('/iiif/*');
  });
});

describe('IiifEdge construct, props change the template', () => {
  it('x86_64, buffered, memory, timeout, concurrency, retention', () => {
    const { json } = synthEdge({
      architecture: 'x86_64', invokeMode: 'BUFFERED', memorySize: 1769, timeoutSeconds: 10,
      reservedConcurrency: 5, logRetention: RetentionDays.ONE_WEEK,
    });
    expect(functionProps(json)).toMatchObject({
      Architectures: ['x86_64'], Handler: 'index.handler', MemorySize: 1769, Timeout: 10, ReservedConcurrentExecutions: 5,
    });
    expect(only(json, 'AWS::Lambda::Url')[1].Properties.InvokeMode).toBe('BUFFERED');
    expect(only(json, 'AWS::Logs::LogGroup')[1].Properties.RetentionInDays).toBe(7);
    expect(functionProps(synthEdge({ reservedConcurrency: 0 }).json).ReservedConcurrentExecutions).toBeUndefined();
  });

  it('custom domain: aliases, certificate, and a fixed public base URL', () => {
    const certificateArn = 'arn:aws:acm:us-east-1:111111111111:certificate/abc';
    const { json } = synthEdge({ domainNames: ['images.example.org', 'iiif.example.org'], certificateArn });
    const config = distributionConfig(json);
    expect(config.Aliases).toEqual(['images.example.org', 'iiif.example.org']);
    expect(config.ViewerCertificate).toMatchObject({ AcmCertificateArn: certificateArn, SslSupportMethod: 'sni-only' });
    expect(env(json)).toMatchObject({ IIIF_PUBLIC_BASE_URL: 'https://images.example.org', IIIF_TRUST_FORWARDED: 'false' });
    expect(json.Outputs.IiifBaseUrlV3.Value).toBe('https://images.example.org/iiif/3');
    expect(() => synthEdge({ domainNames: ['images.example.org'] })).toThrow(/certificateArn/);
    expect(() => synthEdge({ domainNames: ['a.org'], certificateArn: certificateArn.replace('us-east-1', 'eu-west-1') }))
      .toThrow(/us-east-1/);
  });

  it('ForceHost wins; WAF, prefix, region, CORS and limits reach the template', () => {
    const { json, template } = synthEdge({
      forceHost: 'iiif.example.org', domainNames: ['cdn.example.org'], certificateArn: 'arn:aws:acm:us-east-1:1:certificate/x',
      webAclArn: WEB_ACL, sourcePrefix: 'images/', sourceRegion: 'us-west-2',
      resolverTemplate: '%s.tif', cors: { allowOrigin: 'REFLECT_ORIGIN', allowCredentials: true, maxAge: 60 }, maxWidth: 4000,
    });
    expect(env(json)).toMatchObject({
      IIIF_PUBLIC_BASE_URL: 'https://iiif.example.org', IIIF_TRUST_FORWARDED: 'false', IIIF_S3_PREFIX: 'images/',
      IIIF_S3_REGION: 'us-west-2', IIIF_S3_KEY_TEMPLATE: '%s.tif', IIIF_CORS_ALLOW_ORIGIN: 'REFLECT_ORIGIN',
      IIIF_CORS_ALLOW_CREDENTIALS: 'true', IIIF_CORS_MAX_AGE: '60', IIIF_MAX_WIDTH: '4000',
    });
    expect(distributionConfig(json).WebACLId).toBe(WEB_ACL);
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({
        Action: 's3:GetObject', Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::my-images/images/*']] },
      })]) },
    });
    // A reflected origin makes responses vary by Origin: it must be part of the cache key.
    const key = only(json, 'AWS::CloudFront::CachePolicy')[1].Properties.CachePolicyConfig.ParametersInCacheKeyAndForwardedToOrigin;
    expect(key.HeadersConfig.Headers).toEqual(['accept', 'origin']);
    expect(() => synthEdge({ cors: { allowCredentials: true } })).toThrow(/allowCredentials/);
  });

  it('refuses at synth the settings the function would refuse at start (every request would fail)', () => {
    expect(() => synthEdge({ resolverTemplate: 'masters/p001.tif' })).toThrow(/would not start.*IIIF_S3_KEY_TEMPLATE.*%s/);
    expect(() => synthEdge({ cors: { allowOrigin: 'viewer.example.org' } })).toThrow(/would not start.*IIIF_CORS_ALLOW_ORIGIN/);
    expect(() => synthEdge({ app: { rights: 'CC-BY-4.0' } })).toThrow(/would not start.*IIIF_RIGHTS/);
    expect(() => synthEdge({ forceHost: 'images.example.org?x=1' })).toThrow(/would not start.*IIIF_PUBLIC_BASE_URL/);
    expect(() => synthEdge({ domainNames: ['*.example.org'], certificateArn: 'arn:aws:acm:us-east-1:111111111111:certificate/abc' })).toThrow(/wildcard/);
    // A value given as a token is left to the deployment: the checks across settings do not meet its default.
    const stack = new Stack(new App(), 'Tokens');
    const origin = new CfnParameter(stack, 'Origin', { type: 'String', default: 'https://viewer.example.org' }).valueAsString;
    expect(() => checkAppSettings(lambdaEnvironment({ sourceBucket: 'my-images', cors: { allowOrigin: origin, allowCredentials: true } }))).not.toThrow();
    expect(() => checkAppSettings(lambdaEnvironment({ sourceBucket: 'my-images', resolverTemplate: 'x.tif', cors: { allowOrigin: origin } }))).toThrow(/IIIF_S3_KEY_TEMPLATE/);
    // A wildcard after a host name is fine: the first name is the public base.
    expect(() => synthEdge({ domainNames: ['images.example.org', '*.example.org'], certificateArn: 'arn:aws:acm:us-east-1:111111111111:certificate/abc' })).not.toThrow();
  });

  it('rejects a WAF web ACL that CloudFront cannot use (regional scope or another region)', () => {
    expect(() => synthEdge({ webAclArn: WEB_ACL.replace('global/', 'regional/') })).toThrow(/scope CLOUDFRONT/);
    expect(() => synthEdge({ webAclArn: WEB_ACL.replace('us-east-1', 'eu-west-1') })).toThrow(/scope CLOUDFRONT/);
  });

  it('app settings a team tunes reach the function environment', () => {
    const { json } = synthEdge({
      app: {
        jpegQuality: 70, jpegOptimizeCoding: true, density: 300, cacheControlImage: 'public, max-age=60', cacheControlInfo: 'no-cache', cacheControlError: 'no-store',
        rights: 'https://rightsstatements.org/vocab/InC/1.0/', slashSubstitute: '_SL_', securityHeaders: true, preflight: true, rawSlashIds: true,
      },
    });
    expect(env(json)).toMatchObject({
      IIIF_JPEG_QUALITY: '70', IIIF_JPEG_OPTIMIZE_CODING: 'true', IIIF_DENSITY: '300', IIIF_CACHE_CONTROL_IMAGE: 'public, max-age=60', IIIF_CACHE_CONTROL_INFO: 'no-cache',
      IIIF_CACHE_CONTROL_ERROR: 'no-store', IIIF_RIGHTS: 'https://rightsstatements.org/vocab/InC/1.0/', IIIF_SLASH_SUBSTITUTE: '_SL_',
      IIIF_SECURITY_HEADERS: 'true', IIIF_PREFLIGHT: 'true', IIIF_RAW_SLASH_IDS: 'true',
    });
    expect(env(synthEdge().json).IIIF_JPEG_QUALITY).toBeUndefined();
  });

  it('throttling and deadline errors are cached for 1 s only', () => {
    expect(distributionConfig(synthEdge().json).CustomErrorResponses).toEqual(
      [500, 502, 503, 504].map((code) => ({ ErrorCode: code, ErrorCachingMinTTL: 1 })),
    );
  });

  it('hosted zone: alias records for every domain name and a DNS-validated certificate in us-east-1', () => {
    const hostedZone = { id: 'Z0123456789ABC', name: 'example.org' };
    const domainNames = ['images.example.org', 'iiif.example.org'];
    const { json } = synthEdge({ domainNames, hostedZone }, 'us-east-1');
    const [certId, cert] = only(json, 'AWS::CertificateManager::Certificate');
    expect(cert.Properties).toMatchObject({
      DomainName: 'images.example.org', SubjectAlternativeNames: ['iiif.example.org'], ValidationMethod: 'DNS',
      DomainValidationOptions: domainNames.map((DomainName) => ({ DomainName, HostedZoneId: 'Z0123456789ABC' })),
    });
    expect(distributionConfig(json).ViewerCertificate.AcmCertificateArn).toEqual({ Ref: certId });
    const records = resourcesOfType(json, 'AWS::Route53::RecordSet').map(([, r]) => r.Properties);
    expect(records.map((r) => `${r.Type} ${r.Name}`).sort()).toEqual([
      'A iiif.example.org.', 'A images.example.org.', 'AAAA iiif.example.org.', 'AAAA images.example.org.',
    ]);
    const distributionId = only(json, 'AWS::CloudFront::Distribution')[0];
    for (const r of records) expect(r.AliasTarget.DNSName).toEqual({ 'Fn::GetAtt': [distributionId, 'DomainName'] });
    expect(() => synthEdge({ domainNames, hostedZone }, 'eu-west-1')).toThrow(/us-east-1/);
    const certificateArn = 'arn:aws:acm:us-east-1:111111111111:certificate/abc';
    const own = synthEdge({ domainNames, hostedZone, certificateArn }, 'eu-west-1').json;
    expect(resourcesOfType(own, 'AWS::CertificateManager::Certificate')).toEqual([]);
    expect(resourcesOfType(own, 'AWS::Route53::RecordSet')).toHaveLength(4);
  });
});
