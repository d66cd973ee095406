import { CfnOutput, Stack } from 'aws-cdk-lib';
import type { IiifEdge } from './iiif-edge-construct.ts';

/** Stack outputs with fixed names, so scripts (and people) can find them: see scripts/invalidate.sh. */
export function addIiifEdgeOutputs(stack: Stack, edge: IiifEdge, publicBaseUrl: string = edge.publicBaseUrl): void {
  const out = (id: string, value: string, description: string) => new CfnOutput(stack, id, { value, description });
  out('PublicBaseUrl', publicBaseUrl, 'Public base URL the app uses in info.json ids');
  out('IiifBaseUrlV2', `${publicBaseUrl}/iiif/2`, 'IIIF Image API 2.1 base URL');
  out('IiifBaseUrlV3', `${publicBaseUrl}/iiif/3`, 'IIIF Image API 3.0 base URL');
  out('DistributionId', edge.distribution.distributionId, 'CloudFront distribution id');
  out('DistributionDomainName', edge.distribution.distributionDomainName, 'Point DNS (CNAME/alias) here');
  out('FunctionName', edge.function.functionName, 'Lambda function name');
  out(
    'InvalidateCommand',
    `aws cloudfront create-invalidation --distribution-id ${edge.distribution.distributionId} --paths "/iiif/*"`,
    'Run after changing the public host, CORS or the source images',
  );
}
