import { PriceClass } from 'aws-cdk-lib/aws-cloudfront';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IiifEdgeCors, IiifEdgeProps, InvokeModeName, LambdaArchitecture } from './props.ts';

/**
 * Settings of the ready app: CDK context (`-c sourceBucket=...`, or cdk.json) or, for each key,
 * the environment variable IIIF_EDGE_<KEY_IN_SNAKE_CASE> (e.g. IIIF_EDGE_SOURCE_BUCKET). Context wins.
 */
export const SETTINGS = [
  'stackName', 'bundleDir', 'sourceBucket', 'sourcePrefix', 'sourceRegion', 'resolverTemplate', 'forceHost', 'domainNames',
  'certificateArn', 'webAclArn', 'architecture', 'invokeMode', 'memorySize', 'timeout',
  'reservedConcurrency', 'logRetentionDays', 'priceClass', 'corsAllowOrigin', 'corsAllowHeaders',
  'corsAllowCredentials', 'corsExposeHeaders', 'corsMaxAge', 'maxWidth', 'maxHeight', 'maxArea',
  'hostedZoneId', 'hostedZoneName', 'jpegQuality', 'jpegOptimizeCoding', 'density', 'cacheControlImage', 'cacheControlInfo', 'cacheControlError',
  'rights', 'slashSubstitute', 'securityHeaders', 'preflight', 'rawSlashIds',
] as const;
export type SettingName = (typeof SETTINGS)[number];

export function envName(key: SettingName): string {
  return `IIIF_EDGE_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

export interface AppConfig {
  stackName: string;
  /** Where index.mjs is, when not the default dist/lambda/<architecture>. */
  bundleDir: string | undefined;
  props: Omit<IiifEdgeProps, 'code'>;
}

/** `lookup` returns the raw value of a context key (app.node.tryGetContext). */
export function readAppConfig(lookup: (key: string) => unknown, env: NodeJS.ProcessEnv = process.env): AppConfig {
  const get = (key: SettingName): string | undefined => {
    const raw = lookup(key) ?? env[envName(key)];
    return raw === undefined || raw === null || String(raw).trim() === '' ? undefined : String(raw).trim();
  };
  const int = (key: SettingName, min: number, max: number): number | undefined => {
    const raw = get(key);
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new Error(`${key} (${envName(key)}) must be an integer in ${min}..${max}, got "${raw}"`);
    }
    return n;
  };
  const oneOf = <T extends string>(key: SettingName, allowed: readonly T[]): T | undefined => {
    const raw = get(key);
    if (raw !== undefined && !allowed.includes(raw as T)) {
      throw new Error(`${key} (${envName(key)}) must be one of ${allowed.join(', ')}, got "${raw}"`);
    }
    return raw as T | undefined;
  };

  const sourceBucket = get('sourceBucket');
  if (!sourceBucket) {
    throw new Error(`sourceBucket is required: -c sourceBucket=my-images or ${envName('sourceBucket')}=my-images`);
  }
  const retention = int('logRetentionDays', 1, 3653);
  if (retention !== undefined && !Object.values(RetentionDays).includes(retention)) {
    throw new Error(`logRetentionDays must be a CloudWatch Logs retention value (1, 3, 5, 7, 14, 30, 60, 90, ...), got ${retention}`);
  }
  const priceClass = oneOf('priceClass', Object.values(PriceClass));
  const credentials = oneOf('corsAllowCredentials', ['true', 'false'] as const);
  const cors: IiifEdgeCors = {
    allowOrigin: get('corsAllowOrigin'),
    allowHeaders: get('corsAllowHeaders'),
    allowCredentials: credentials === undefined ? undefined : credentials === 'true',
    exposeHeaders: get('corsExposeHeaders'),
    maxAge: int('corsMaxAge', 0, 86400),
  };
  const domainNames = get('domainNames')?.split(',').map((d) => d.trim()).filter(Boolean);
  const flag = (key: SettingName): boolean | undefined => {
    const raw = oneOf(key, ['true', 'false'] as const);
    return raw === undefined ? undefined : raw === 'true';
  };
  const zoneId = get('hostedZoneId');
  const zoneName = get('hostedZoneName');
  if ((zoneId === undefined) !== (zoneName === undefined)) {
    throw new Error(`hostedZoneId and hostedZoneName go together (${envName('hostedZoneId')}, ${envName('hostedZoneName')})`);
  }
  const props: Omit<IiifEdgeProps, 'code'> = {
    sourceBucket,
    sourcePrefix: get('sourcePrefix'),
    sourceRegion: get('sourceRegion'),
    resolverTemplate: get('resolverTemplate'),
    forceHost: get('forceHost'),
    domainNames,
    certificateArn: get('certificateArn'),
    webAclArn: get('webAclArn'),
    architecture: oneOf<LambdaArchitecture>('architecture', ['arm64', 'x86_64']),
    invokeMode: oneOf<InvokeModeName>('invokeMode', ['RESPONSE_STREAM', 'BUFFERED']),
    memorySize: int('memorySize', 128, 10240),
    timeoutSeconds: int('timeout', 1, 60),
    reservedConcurrency: int('reservedConcurrency', 0, 100000),
    logRetention: retention as RetentionDays | undefined,
    priceClass,
    cors,
    maxWidth: int('maxWidth', 1, 1_000_000),
    maxHeight: int('maxHeight', 1, 1_000_000),
    maxArea: int('maxArea', 1, Number.MAX_SAFE_INTEGER),
    hostedZone: zoneId && zoneName ? { id: zoneId, name: zoneName } : undefined,
    app: {
      jpegQuality: int('jpegQuality', 1, 100),
      jpegOptimizeCoding: flag('jpegOptimizeCoding'),
      density: int('density', 1, 100_000),
      cacheControlImage: get('cacheControlImage'),
      cacheControlInfo: get('cacheControlInfo'),
      cacheControlError: get('cacheControlError'),
      rights: get('rights'),
      slashSubstitute: get('slashSubstitute'),
      securityHeaders: flag('securityHeaders'),
      preflight: flag('preflight'),
      rawSlashIds: flag('rawSlashIds'),
    },
  };
  return { stackName: get('stackName') ?? 'IiifEdge', bundleDir: get('bundleDir'), props };
}
