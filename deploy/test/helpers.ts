import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { IiifEdge, type IiifEdgeProps } from '../lib/iiif-edge-construct.ts';
import { addIiifEdgeOutputs } from '../lib/outputs.ts';

export type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Synthesizes the construct in a plain stack with stub code (the real bundle is not needed). */
export function synthEdge(props: Partial<IiifEdgeProps> = {}, region = 'eu-west-1'): { template: Template; json: Json } {
  const outdir = mkdtempSync(join(tmpdir(), 'iiif-edge-test-'));
  try {
    const app = new App({ analyticsReporting: false, outdir });
    const stack = new Stack(app, 'Test', { env: { account: '111111111111', region } });
    const edge = new IiifEdge(stack, 'Edge', {
      sourceBucket: 'my-images',
      code: lambda.Code.fromInline('export const handler = async () => ({ statusCode: 200 });'),
      ...props,
    });
    addIiifEdgeOutputs(stack, edge);
    const template = Template.fromStack(stack);
    return { template, json: template.toJSON() };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

export function resourcesOfType(json: Json, type: string): [string, Json][] {
  return Object.entries(json.Resources as Record<string, Json>).filter(([, r]) => r.Type === type);
}

export function only(json: Json, type: string): [string, Json] {
  const found = resourcesOfType(json, type);
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0]!;
}

/** Every IAM statement of every policy (inline policies of roles and AWS::IAM::Policy). */
export function iamStatements(json: Json): Json[] {
  const out: Json[] = [];
  for (const [, r] of resourcesOfType(json, 'AWS::IAM::Policy')) out.push(...r.Properties.PolicyDocument.Statement);
  for (const [, r] of resourcesOfType(json, 'AWS::IAM::Role')) {
    for (const p of r.Properties.Policies ?? []) out.push(...p.PolicyDocument.Statement);
  }
  return out;
}

const NO_VALUE = Symbol('AWS::NoValue');

/**
 * A small CloudFormation evaluator for tests: applies parameter values (defaults filled in),
 * conditions, Fn::If / Ref / Join / Split / Select / FindInMap / Equals / Not / And / Or and AWS::NoValue.
 * Resource references and attributes stay symbolic ("<Ref Id>", "<Id.Attr>").
 */
export function evaluate(template: Json, given: Record<string, string>): Json {
  const params: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(template.Parameters as Record<string, Json>)) {
    const raw = given[name] ?? (spec.Default === undefined ? undefined : String(spec.Default));
    if (raw === undefined) throw new Error(`parameter ${name} needs a value`);
    params[name] = spec.Type === 'CommaDelimitedList' ? raw.split(',') : raw;
  }
  const conditions: Record<string, boolean> = {};
  const condition = (name: string): boolean => {
    if (!(name in conditions)) conditions[name] = Boolean(ev(template.Conditions[name]));
    return conditions[name]!;
  };
  const ev = (node: Json): Json => {
    if (Array.isArray(node)) return node.map(ev).filter((v) => v !== NO_VALUE);
    if (node === null || typeof node !== 'object') return node;
    const keys = Object.keys(node);
    if (keys.length === 1) {
      const [fn] = keys as [string];
      const arg = node[fn];
      switch (fn) {
        case 'Ref':
          if (arg === 'AWS::NoValue') return NO_VALUE;
          if (arg in params) return params[arg];
          return `<Ref ${arg}>`;
        case 'Fn::GetAtt': return `<${arg[0]}.${arg[1]}>`;
        case 'Fn::If': return condition(arg[0]) ? ev(arg[1]) : ev(arg[2]);
        case 'Condition': return condition(arg);
        case 'Fn::Equals': return String(ev(arg[0])) === String(ev(arg[1]));
        case 'Fn::Not': return !ev(arg[0]);
        case 'Fn::And': return arg.every((a: Json) => ev(a));
        case 'Fn::Or': return arg.some((a: Json) => ev(a));
        case 'Fn::Join': return (ev(arg[1]) as unknown[]).join(arg[0]);
        case 'Fn::Split': return String(ev(arg[1])).split(arg[0]);
        case 'Fn::Select': return (ev(arg[1]) as unknown[])[Number(ev(arg[0]))];
        case 'Fn::FindInMap': return template.Mappings[ev(arg[0])][ev(arg[1])][ev(arg[2])];
      }
    }
    const out: Record<string, Json> = {};
    for (const [k, v] of Object.entries(node)) {
      const value = ev(v);
      if (value !== NO_VALUE) out[k] = value;
    }
    return out;
  };
  const resources: Record<string, Json> = {};
  for (const [id, r] of Object.entries(template.Resources as Record<string, Json>)) {
    if (r.Condition && !condition(r.Condition)) continue;
    resources[id] = ev(r);
  }
  const outputs: Record<string, Json> = {};
  for (const [id, o] of Object.entries(template.Outputs as Record<string, Json>)) outputs[id] = ev(o.Value);
  return { Resources: resources, Outputs: outputs, conditions };
}
