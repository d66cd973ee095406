import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { renderTemplate, synthesizeTemplate, TEMPLATE_PATH } from '../lib/synth-template.ts';
import { evaluate, type Json, only } from './helpers.ts';

const WEB_ACL = 'arn:aws:wafv2:us-east-1:111111111111:global/webacl/images/a1b2c3d4-5678-90ab-cdef-0123456789ab';
const REQUIRED = { CodeS3Bucket: 'my-code', CodeS3Key: 'iiif-edge-arm64.zip', SourceBucket: 'my-images' };
const resource = (evaluated: Json, type: string) =>
  Object.values(evaluated.Resources as Record<string, Json>).find((r) => r.Type === type)!.Properties;
const env = (evaluated: Json) => resource(evaluated, 'AWS::Lambda::Function').Environment.Variables;
const distribution = (evaluated: Json) => resource(evaluated, 'AWS::CloudFront::Distribution').DistributionConfig;
const cacheHeaders = (evaluated: Json) =>
  resource(evaluated, 'AWS::CloudFront::CachePolicy').CachePolicyConfig.ParametersInCacheKeyAndForwardedToOrigin.HeadersConfig.Headers;

describe('committed CloudFormation template', () => {
  let fresh: Json;
  beforeAll(() => {
    fresh = synthesizeTemplate();
  });

  it('matches a fresh synthesis (regenerate with `npm run deploy:template`)', () => {
    const committed = readFileSync(fileURLToPath(TEMPLATE_PATH), 'utf8');
    expect(JSON.parse(committed)).toEqual(fresh);
    expect(committed).toBe(renderTemplate(fresh));
  });

  it('deploys without CDK: no bootstrap version, no asset hashes, code from parameters', () => {
    const text = JSON.stringify(fresh);
    expect(fresh.Parameters.BootstrapVersion).toBeUndefined();
    expect(text).not.toMatch(/cdk-hnb659fds|AssetParameters|aws:asset|CDKMetadata/);
    const [, fn] = only(fresh, 'AWS::Lambda::Function');
    expect(fn.Properties.Code).toEqual({ S3Bucket: { Ref: 'CodeS3Bucket' }, S3Key: { Ref: 'CodeS3Key' } });
    // `aws cloudformation deploy --template-file` sends up to 51,200 bytes inline; beyond it needs --s3-bucket.
    expect(Buffer.byteLength(renderTemplate(fresh))).toBeLessThan(51_200);
  });

  it('offers the parameters a serverless-iiif user recognises', () => {
    for (const name of ['SourceBucket', 'ResolverTemplate', 'ForceHost', 'CorsAllowOrigin', 'CorsAllowHeaders',
      'CorsAllowCredentials', 'CorsExposeHeaders', 'CorsMaxAge', 'MemorySize', 'Timeout']) {
      expect(fresh.Parameters[name], name).toBeDefined();
    }
    expect(fresh.Parameters.SourceBucket.Default).toBeUndefined();
    expect(Object.keys(fresh.Rules)).toEqual(expect.arrayContaining(['DomainNameNeedsCertificate', 'CorsCredentialsNeedExplicitOrigin']));
  });

  it('with defaults: arm64, streaming, IAM URL, OAC, no alias, host from the distribution', () => {
    const t = evaluate(fresh, REQUIRED);
    expect(resource(t, 'AWS::Lambda::Function')).toMatchObject({
      Architectures: ['arm64'], Handler: 'index.streamHandler', Runtime: 'nodejs22.x',
      MemorySize: '3008', Timeout: '30', ReservedConcurrentExecutions: '50',
    });
    expect(resource(t, 'AWS::Lambda::Url')).toMatchObject({ AuthType: 'AWS_IAM', InvokeMode: 'RESPONSE_STREAM' });
    const d = distribution(t);
    expect(d.Origins[0].OriginAccessControlId).toMatch(/^<.*OriginAccessControl.*\.Id>$/);
    expect(d.DefaultCacheBehavior.OriginRequestPolicyId).toBe('b689b0a8-53d0-40ab-baf2-68738e2966ac');
    expect(d.DefaultCacheBehavior.ResponseHeadersPolicyId).toBe('67f7725c-6f97-4210-82d7-5512b31e9d03');
    expect(d.Aliases).toBeUndefined();
    expect(d.WebACLId).toBeUndefined();
    expect(d.ViewerCertificate).toEqual({ CloudFrontDefaultCertificate: true });
    expect(env(t).IIIF_PUBLIC_BASE_URL).toBeUndefined();
    expect(env(t)).toMatchObject({ IIIF_TRUST_FORWARDED: 'true', IIIF_S3_BUCKET: 'my-images', IIIF_S3_KEY_TEMPLATE: '%s' });
    expect(env(t).IIIF_S3_PREFIX).toBeUndefined();
    expect(cacheHeaders(t)).toEqual(['accept']);
    expect(t.Outputs.PublicBaseUrl).toMatch(/^https:\/\/<IiifEdgeDistribution\w+\.DomainName>$/);
    expect(t.Outputs.IiifBaseUrlV3).toBe(`${t.Outputs.PublicBaseUrl}/iiif/3`);
    expect(t.Outputs.IiifBaseUrlV2).toBe(`${t.Outputs.PublicBaseUrl}/iiif/2`);
    expect(t.Outputs.DistributionId).toMatch(/^<Ref IiifEdgeDistribution/);
    expect(t.Outputs.FunctionName).toMatch(/^<Ref IiifEdgeFunction/);
    const grants = resource(t, 'AWS::IAM::Policy').PolicyDocument.Statement.filter((s: Json) => String(s.Action).startsWith('s3:'));
    expect(grants.map((s: Json) => [s.Action, s.Resource])).toEqual([
      ['s3:GetObject', 'arn:<Ref AWS::Partition>:s3:::my-images/*'],
      ['s3:ListBucket', 'arn:<Ref AWS::Partition>:s3:::my-images'],
    ]);
  });

  it('parameters change the template: domain, aliases, WAF, architecture, mode, sizes, prefix, CORS', () => {
    const t = evaluate(fresh, {
      ...REQUIRED, DomainName: 'images.example.org', AlternateDomainNames: 'a.example.org,b.example.org',
      CertificateArn: 'arn:aws:acm:us-east-1:111111111111:certificate/abc', WebAclArn: WEB_ACL,
      Architecture: 'x86_64', InvokeMode: 'BUFFERED', MemorySize: '1769', Timeout: '15', ReservedConcurrency: '0',
      SourcePrefix: 'iiif/', SourceBucketRegion: 'us-west-2', ResolverTemplate: '%s.tif', CorsAllowOrigin: 'REFLECT_ORIGIN',
      MaxWidth: '5000', LogRetentionDays: '7',
    });
    const d = distribution(t);
    expect(d.Aliases).toEqual(['images.example.org', 'a.example.org', 'b.example.org']);
    expect(d.ViewerCertificate).toEqual({
      AcmCertificateArn: 'arn:aws:acm:us-east-1:111111111111:certificate/abc', SslSupportMethod: 'sni-only', MinimumProtocolVersion: 'TLSv1.2_2021',
    });
    expect(d.WebACLId).toBe(WEB_ACL);
    const fn = resource(t, 'AWS::Lambda::Function');
    expect(fn).toMatchObject({ Architectures: ['x86_64'], Handler: 'index.handler', MemorySize: '1769', Timeout: '15' });
    expect(env(t).IIIF_REQUEST_TIMEOUT_MS).toBe('13000');
    expect(fn.ReservedConcurrentExecutions).toBeUndefined();
    expect(resource(t, 'AWS::Lambda::Url').InvokeMode).toBe('BUFFERED');
    expect(resource(t, 'AWS::Logs::LogGroup').RetentionInDays).toBe('7');
    expect(env(t)).toMatchObject({
      IIIF_PUBLIC_BASE_URL: 'https://images.example.org', IIIF_TRUST_FORWARDED: 'false', IIIF_S3_PREFIX: 'iiif/',
      IIIF_S3_REGION: 'us-west-2', IIIF_S3_KEY_TEMPLATE: '%s.tif', IIIF_CORS_ALLOW_ORIGIN: 'REFLECT_ORIGIN', IIIF_MAX_WIDTH: '5000',
    });
    expect(env(t).IIIF_MAX_HEIGHT).toBeUndefined();
    expect(cacheHeaders(t)).toEqual(['accept', 'origin']);
    expect(t.Outputs.IiifBaseUrlV2).toBe('https://images.example.org/iiif/2');
    const getObject = resource(t, 'AWS::IAM::Policy').PolicyDocument.Statement.find((s: Json) => s.Action === 's3:GetObject');
    expect(getObject.Resource).toBe('arn:<Ref AWS::Partition>:s3:::my-images/iiif/*');
  });

  it('ForceHost wins over DomainName for the public base URL', () => {
    const t = evaluate(fresh, {
      ...REQUIRED, ForceHost: 'iiif.example.org', DomainName: 'cdn.example.org',
      CertificateArn: 'arn:aws:acm:us-east-1:111111111111:certificate/abc',
    });
    expect(env(t)).toMatchObject({ IIIF_PUBLIC_BASE_URL: 'https://iiif.example.org', IIIF_TRUST_FORWARDED: 'false' });
    expect(distribution(t).Aliases).toEqual(['cdn.example.org']);
    expect(t.Outputs.IiifBaseUrlV3).toBe('https://iiif.example.org/iiif/3');
  });

  it('every parameter default is one of its AllowedValues, as a string, and matches its AllowedPattern (cfn-lint E2015, E3031)', () => {
    for (const [name, spec] of Object.entries(fresh.Parameters as Record<string, Json>)) {
      if (spec.Default === undefined) continue;
      if (spec.Type !== 'CommaDelimitedList') expect(typeof spec.Default, name).toBe('string');
      if (spec.AllowedValues) {
        expect(spec.AllowedValues.every((v: unknown) => typeof v === 'string'), name).toBe(true);
        expect(spec.AllowedValues, name).toContain(spec.Default);
      }
      if (spec.AllowedPattern) expect(spec.Default, name).toMatch(new RegExp(spec.AllowedPattern));
      if (spec.MinValue !== undefined) expect(Number(spec.Default), name).toBeGreaterThanOrEqual(Number(spec.MinValue));
      if (spec.MaxValue !== undefined) expect(Number(spec.Default), name).toBeLessThanOrEqual(Number(spec.MaxValue));
    }
  });

  it('refuses parameter values the function would refuse at start', () => {
    const matches = (name: string, value: string) => new RegExp(fresh.Parameters[name].AllowedPattern).test(value);
    expect(matches('ResolverTemplate', '%s.tif')).toBe(true);
    expect(matches('ResolverTemplate', 'masters/p001.tif')).toBe(false);
    for (const ok of ['*', 'REFLECT_ORIGIN', 'https://viewer.example.org', 'https://a.example.org, http://b.example.org:8080']) expect(matches('CorsAllowOrigin', ok), ok).toBe(true);
    for (const bad of ['viewer.example.org', '', 'https://a.example.org/', 'https://a.example.org,']) expect(matches('CorsAllowOrigin', bad), bad).toBe(false);
    for (const ok of ['*', 'Range', 'Range, X-Requested-With']) expect(matches('CorsAllowHeaders', ok), ok).toBe(true);
    for (const bad of ['', 'Range X', 'a:b']) expect(matches('CorsAllowHeaders', bad), bad).toBe(false);
    expect(matches('DomainName', 'images.example.org')).toBe(true);
    expect(matches('DomainName', '*.example.org')).toBe(false);
    for (const [name, ok, bad] of [
      ['PixelDensity', ['', '1', '300', '9999', '65535'], ['0', '65536', '70000', '1.5']],
      ['MaxWidth', ['', '512', '599', '1000', '65500'], ['0', '256', '511', '051']],
      ['MaxHeight', ['', '512', '10000'], ['511']],
      ['MaxArea', ['', '262144', '262150', '999999', '25000000'], ['0', '100000', '262143']],
      ['CorsExposeHeaders', ['Link, ETag', '*'], ['Link; ETag', '']],
    ] as const) {
      for (const value of ok) expect(matches(name, value), `${name}=${value}`).toBe(true);
      for (const value of bad) expect(matches(name, value), `${name}=${value}`).toBe(false);
    }
    // What the patterns let through, the app takes too.
    for (const [name, env, values] of [
      ['PixelDensity', 'IIIF_DENSITY', ['1', '300', '65535']],
      ['MaxWidth', 'IIIF_MAX_WIDTH', ['512', '599', '65500']],
      ['MaxArea', 'IIIF_MAX_AREA', ['262144', '999999']],
    ] as const) {
      for (const value of values) expect(matches(name, value) && (() => loadConfig({ [env]: value }))(), `${name}=${value}`).toBeTruthy();
    }
  });

  it('accepts only a CloudFront-scope (us-east-1, global) WAF web ACL', () => {
    const pattern = new RegExp(fresh.Parameters.WebAclArn.AllowedPattern);
    expect(WEB_ACL).toMatch(pattern);
    expect('').toMatch(pattern);
    expect(WEB_ACL.replace('us-east-1', 'eu-west-1')).not.toMatch(pattern);
    expect(WEB_ACL.replace('global/', 'regional/')).not.toMatch(pattern);
    expect('arn:aws:wafv2:us-east-1:1:global/webacl/x/1').not.toMatch(pattern);
  });

  it('sets the app request deadline below every offered function timeout', () => {
    const timeouts = fresh.Parameters.Timeout.AllowedValues as string[];
    for (const timeout of timeouts) {
      const deadline = Number(env(evaluate(fresh, { ...REQUIRED, Timeout: timeout })).IIIF_REQUEST_TIMEOUT_MS);
      expect(deadline, timeout).toBeLessThan(Number(timeout) * 1000);
      expect(deadline, timeout).toBeGreaterThan(0);
    }
    expect(env(evaluate(fresh, REQUIRED)).IIIF_REQUEST_TIMEOUT_MS).toBe('28000');
  });

  it('passes the tuned app settings to the function, with the app defaults otherwise', () => {
    const defaults = env(evaluate(fresh, REQUIRED));
    expect(defaults).toMatchObject({
      IIIF_JPEG_QUALITY: '85', IIIF_CACHE_CONTROL_IMAGE: 'public, max-age=2592000', IIIF_CACHE_CONTROL_INFO: 'public, max-age=86400',
      IIIF_CACHE_CONTROL_ERROR: 'public, max-age=60', IIIF_SECURITY_HEADERS: 'false', IIIF_PREFLIGHT: 'false', IIIF_RAW_SLASH_IDS: 'false',
      IIIF_JPEG_OPTIMIZE_CODING: 'false',
    });
    for (const unset of ['IIIF_DENSITY', 'IIIF_RIGHTS', 'IIIF_SLASH_SUBSTITUTE']) expect(defaults[unset], unset).toBeUndefined();
    const tuned = env(evaluate(fresh, {
      ...REQUIRED, JpegQuality: '70', PixelDensity: '300', CacheControlImage: 'public, max-age=60', Rights: 'https://creativecommons.org/publicdomain/zero/1.0/',
      SlashSubstitute: '_SL_', SecurityHeaders: 'true', Preflight: 'true', RawSlashIds: 'true', JpegOptimizeCoding: 'true',
    }));
    expect(tuned).toMatchObject({
      IIIF_JPEG_QUALITY: '70', IIIF_DENSITY: '300', IIIF_CACHE_CONTROL_IMAGE: 'public, max-age=60',
      IIIF_RIGHTS: 'https://creativecommons.org/publicdomain/zero/1.0/', IIIF_SLASH_SUBSTITUTE: '_SL_', IIIF_SECURITY_HEADERS: 'true',
      IIIF_PREFLIGHT: 'true', IIIF_RAW_SLASH_IDS: 'true', IIIF_JPEG_OPTIMIZE_CODING: 'true',
    });
  });

  it('keeps throttling and deadline errors for 1 s at the edge', () => {
    const errors = distribution(evaluate(fresh, REQUIRED)).CustomErrorResponses;
    expect(errors).toEqual([500, 502, 503, 504].map((code) => ({ ErrorCode: code, ErrorCachingMinTTL: 1 })));
  });

  it('with HostedZoneId: alias records and a DNS-validated certificate for DomainName', () => {
    const t = evaluate(fresh, { ...REQUIRED, DomainName: 'images.example.org', HostedZoneId: 'Z0123456789ABC' });
    const records = Object.values(t.Resources as Record<string, Json>).filter((r) => r.Type === 'AWS::Route53::RecordSet').map((r) => r.Properties);
    expect(records.map((r) => r.Type).sort()).toEqual(['A', 'AAAA']);
    for (const r of records) {
      expect(r).toMatchObject({ HostedZoneId: 'Z0123456789ABC', Name: 'images.example.org', AliasTarget: { HostedZoneId: 'Z2FDTNDATAQYW2' } });
      expect(r.AliasTarget.DNSName).toMatch(/^<IiifEdgeDistribution\w+\.DomainName>$/);
    }
    expect(resource(t, 'AWS::CertificateManager::Certificate')).toEqual({
      DomainName: 'images.example.org', ValidationMethod: 'DNS',
      DomainValidationOptions: [{ DomainName: 'images.example.org', HostedZoneId: 'Z0123456789ABC' }],
    });
    expect(distribution(t).ViewerCertificate.AcmCertificateArn).toBe('<Ref Certificate>');
    expect(distribution(t).Aliases).toEqual(['images.example.org']);
    // A given certificate wins; without a zone there are no records.
    const own = evaluate(fresh, { ...REQUIRED, DomainName: 'images.example.org', HostedZoneId: 'Z0123456789ABC', CertificateArn: 'arn:aws:acm:us-east-1:111111111111:certificate/abc' });
    expect(Object.values(own.Resources as Record<string, Json>).some((r) => r.Type === 'AWS::CertificateManager::Certificate')).toBe(false);
    expect(distribution(own).ViewerCertificate.AcmCertificateArn).toBe('arn:aws:acm:us-east-1:111111111111:certificate/abc');
    const none = evaluate(fresh, REQUIRED);
    expect(Object.values(none.Resources as Record<string, Json>).some((r) => r.Type === 'AWS::Route53::RecordSet')).toBe(false);
  });
});
