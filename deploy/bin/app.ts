#!/usr/bin/env -S npx tsx
// The ready CDK app: `npm run deploy` here, or `npm run deploy:aws` at the repository root.
// Settings come from CDK context or IIIF_EDGE_* environment variables (lib/app-config.ts).
import { App } from 'aws-cdk-lib';
import { readAppConfig } from '../lib/app-config.ts';
import { IiifEdgeAppStack } from '../lib/iiif-edge-app-stack.ts';

const app = new App();
const { stackName, bundleDir, props } = readAppConfig((key) => app.node.tryGetContext(key));
new IiifEdgeAppStack(app, stackName, {
  edge: props,
  bundleDir,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: 'iiif-edge: IIIF Image API on Lambda behind CloudFront (Origin Access Control)',
});
app.synth();
