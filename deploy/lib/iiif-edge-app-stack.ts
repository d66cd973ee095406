import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Stack, type StackProps } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import { DEFAULTS, IiifEdge, type IiifEdgeProps, lambdaBundleDir } from './iiif-edge-construct.ts';
import { addIiifEdgeOutputs } from './outputs.ts';

export interface IiifEdgeAppStackProps extends StackProps {
  readonly edge: IiifEdgeProps;
  /** Directory holding index.mjs when edge.code is not given. @default <repo>/dist/lambda/<architecture> */
  readonly bundleDir?: string;
}

/** The ready stack of `bin/app.ts`: the construct plus named outputs. */
export class IiifEdgeAppStack extends Stack {
  readonly edge: IiifEdge;

  constructor(scope: Construct, id: string, props: IiifEdgeAppStackProps) {
    super(scope, id, props);
    const arch = props.edge.architecture ?? DEFAULTS.architecture;
    let code = props.edge.code;
    if (!code) {
      const dir = props.bundleDir ?? lambdaBundleDir(arch);
      if (!existsSync(join(dir, 'index.mjs'))) {
        throw new Error(`No Lambda bundle in ${dir}: run \`npm run build:lambda\` at the repository root first`);
      }
      code = lambda.Code.fromAsset(dir);
    }
    this.edge = new IiifEdge(this, 'IiifEdge', { ...props.edge, code });
    addIiifEdgeOutputs(this, this.edge);
  }
}
