import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { envName, readAppConfig } from '../lib/app-config.ts';
import { IiifEdgeAppStack } from '../lib/iiif-edge-app-stack.ts';

const temporary: string[] = [];
const tempDir = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temporary.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of temporary) rmSync(dir, { recursive: true, force: true });
});

const fromContext = (context: Record<string, unknown>) => (key: string) => context[key];

describe('ready app settings (context and IIIF_EDGE_* environment)', () => {
  it('needs a source bucket and names the setting', () => {
    expect(() => readAppConfig(fromContext({}), {})).toThrow(/sourceBucket.*IIIF_EDGE_SOURCE_BUCKET/);
  });

  it('reads context first, then the environment', () => {
    const { stackName, props } = readAppConfig(
      fromContext({ sourceBucket: 'ctx-bucket', memorySize: '2048', domainNames: 'a.org, b.org' }),
      { IIIF_EDGE_SOURCE_BUCKET: 'env-bucket', IIIF_EDGE_INVOKE_MODE: 'BUFFERED', IIIF_EDGE_CORS_ALLOW_CREDENTIALS: 'true',
        IIIF_EDGE_CORS_ALLOW_ORIGIN: 'REFLECT_ORIGIN', IIIF_EDGE_STACK_NAME: 'Images' },
    );
    expect(stackName).toBe('Images');
    expect(props).toMatchObject({
      sourceBucket: 'ctx-bucket', memorySize: 2048, invokeMode: 'BUFFERED', domainNames: ['a.org', 'b.org'],
      cors: { allowOrigin: 'REFLECT_ORIGIN', allowCredentials: true },
    });
    expect(envName('reservedConcurrency')).toBe('IIIF_EDGE_RESERVED_CONCURRENCY');
  });

  it('reads the app settings a team tunes and the hosted zone', () => {
    const { props } = readAppConfig(fromContext({ sourceBucket: 'b', jpegQuality: '75', jpegOptimizeCoding: 'true', preflight: 'true', hostedZoneId: 'Z1', hostedZoneName: 'example.org' }),
      { IIIF_EDGE_SLASH_SUBSTITUTE: '_SL_', IIIF_EDGE_CACHE_CONTROL_INFO: 'no-cache' });
    expect(props.app).toMatchObject({ jpegQuality: 75, jpegOptimizeCoding: true, preflight: true, slashSubstitute: '_SL_', cacheControlInfo: 'no-cache' });
    expect(props.hostedZone).toEqual({ id: 'Z1', name: 'example.org' });
    expect(() => readAppConfig(fromContext({ sourceBucket: 'b', jpegQuality: '101' }), {})).toThrow(/jpegQuality.*1\.\.100/);
    expect(() => readAppConfig(fromContext({ sourceBucket: 'b', hostedZoneId: 'Z1' }), {})).toThrow(/hostedZoneName/);
  });

  it('rejects bad values with the setting name', () => {
    const bucket = { sourceBucket: 'b' };
    expect(() => readAppConfig(fromContext({ ...bucket, architecture: 'arm' }), {})).toThrow(/architecture.*arm64, x86_64/);
    expect(() => readAppConfig(fromContext({ ...bucket, timeout: '900' }), {})).toThrow(/timeout.*1\.\.60/);
    expect(() => readAppConfig(fromContext({ ...bucket, logRetentionDays: '2' }), {})).toThrow(/logRetentionDays/);
  });
});

describe('ready app stack', () => {
  it('fails with a helpful message when the Lambda bundle has not been built', () => {
    const { props } = readAppConfig(fromContext({ sourceBucket: 'b' }), {});
    const bundleDir = join(tmpdir(), 'iiif-edge-no-such-bundle');
    expect(() => new IiifEdgeAppStack(new App({ outdir: tempDir('iiif-edge-out-') }), 'S', { edge: props, bundleDir })).toThrow(/npm run build:lambda/);
  });

  it('synthesizes from a bundle directory (stub index.mjs) with the named outputs', () => {
    const dir = tempDir('iiif-edge-bundle-');
    writeFileSync(join(dir, 'index.mjs'), 'export const handler = async () => ({}); export const streamHandler = handler;\n');
    const app = new App({ outdir: tempDir('iiif-edge-out-') });
    const { props } = readAppConfig(fromContext({ sourceBucket: 'b' }), {});
    const stack = new IiifEdgeAppStack(app, 'IiifEdge', { edge: props, bundleDir: dir });
    const json = Template.fromStack(stack).toJSON();
    expect(Object.keys(json.Outputs).sort()).toEqual([
      'DistributionDomainName', 'DistributionId', 'FunctionName', 'IiifBaseUrlV2', 'IiifBaseUrlV3', 'InvalidateCommand', 'PublicBaseUrl',
    ]);
    const fn = Object.values(json.Resources as Record<string, { Type: string; Properties: { Code: object } }>)
      .find((r) => r.Type === 'AWS::Lambda::Function')!;
    expect(JSON.stringify(fn.Properties.Code)).toMatch(/cdk-hnb659fds-assets/);
  }, 90_000); // a full synthesis with asset staging: slow on a shared machine
});
