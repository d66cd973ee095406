import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const SCRIPTS = fileURLToPath(new URL('../scripts/', import.meta.url));
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * A fake `aws` (and `npx`) on PATH: each call appends its arguments as one line to calls.log and
 * answers from canned replies, so the scripts run without network or credentials.
 */
function fakeCli(replies: { lastUpdated?: string[] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'iiif-edge-fake-aws-'));
  dirs.push(dir);
  const log = join(dir, 'calls.log');
  writeFileSync(join(dir, 'updated'), `${(replies.lastUpdated ?? []).join('\n')}\n`);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({
    ETag: 'E1CONFIGETAG',
    DistributionConfig: { CallerReference: 'x', Enabled: true, Aliases: { Quantity: 0 }, Logging: { Enabled: true } },
  }));
  const aws = `#!/bin/sh
printf 'aws %s\\n' "$*" >> '${log}'
[ -z "$AWS_PROFILE" ] || printf 'profile %s\\n' "$AWS_PROFILE" >> '${dir}/profiles.log'
case "$*" in
  *describe-stacks*)
    line=$(head -n 1 '${dir}/updated'); sed -i 1d '${dir}/updated'
    case "$line" in FAIL:*) printf '%s\n' "\${line#FAIL:}" >&2; exit 254 ;; esac
    printf '%s\n' "$line" ;;
  *get-distribution-config*) cat '${dir}/config.json' ;;
  *"get-distribution --id"*"--query ETag"*) echo E2DISTETAG ;;
  *"get-distribution --id"*"--query Distribution.DomainName"*) echo d111111abcdef8.cloudfront.net ;;
  *"get-distribution --id"*"--query Distribution.ARN"*) echo arn:aws:cloudfront::111111111111:distribution/E1OLDDIST ;;
  *list-tags-for-resource*) cat '${dir}/stack-tag' 2>/dev/null || echo None ;;
  *update-distribution*) cp "$(printf '%s' "$*" | sed 's/.*file:\\/\\///')" '${dir}/sent.json' ;;
esac
`;
  writeFileSync(join(dir, 'aws'), aws);
  writeFileSync(join(dir, 'npx'), `#!/bin/sh\nprintf 'npx %s\\n' "$*" >> '${log}'\n`);
  chmodSync(join(dir, 'aws'), 0o755);
  chmodSync(join(dir, 'npx'), 0o755);
  const run = (script: string, args: string[]) => {
    const result = spawnSync('sh', [join(SCRIPTS, script), ...args], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, IIIF_EDGE_STACK_NAME: 'Images' },
    });
    let calls: string[] = [];
    try {
      calls = readFileSync(log, 'utf8').trim().split('\n').filter(Boolean);
    } catch {
      // no call was made
    }
    return { status: result.status, stdout: result.stdout, stderr: result.stderr, calls };
  };
  return { run, dir };
}

describe('move-domain.sh', () => {
  it('--dry-run prints the domain-association commands and calls nothing', () => {
    const { run } = fakeCli();
    const r = run('move-domain.sh', ['--domain', 'images.example.org', '--target', 'E1TARGET2ABC', '--dry-run']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.calls).toEqual([]);
    expect(r.stdout).toContain('+ aws cloudfront list-domain-conflicts --domain images.example.org --domain-control-validation-resource DistributionId=E1TARGET2ABC');
    expect(r.stdout).toContain("+ aws cloudfront update-domain-association --domain images.example.org --target-resource DistributionId=E1TARGET2ABC --if-match '<ETag of the target>'");
    expect(r.stdout).toContain('+ aws cloudfront wait distribution-deployed --id E1TARGET2ABC');
    expect(r.stdout).not.toContain('verify-dns-configuration');
  });

  it('cross-account: names the TXT record and stops; with --txt-ready, moves the domain', () => {
    const { run } = fakeCli();
    const dry = run('move-domain.sh', ['--domain', 'images.example.org', '--target', 'E1TARGET2ABC', '--cross-account', '--dry-run']);
    expect(dry.stdout).toMatch(/_images\.example\.org TXT/);
    expect(dry.stdout).not.toContain('update-domain-association');
    const first = run('move-domain.sh', ['--domain', 'images.example.org', '--target', 'E1TARGET2ABC', '--cross-account']);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toContain('_images.example.org TXT "d111111abcdef8.cloudfront.net"');
    expect(first.stdout).toContain('--txt-ready');
    // verify-dns-configuration is for distribution tenants: it is never called.
    expect(first.calls).toEqual([
      'aws cloudfront list-domain-conflicts --domain images.example.org --domain-control-validation-resource DistributionId=E1TARGET2ABC',
      'aws cloudfront get-distribution --id E1TARGET2ABC --query Distribution.DomainName --output text',
    ]);
    const { run: again } = fakeCli();
    const ready = again('move-domain.sh', ['--domain', 'images.example.org', '--target', 'E1TARGET2ABC', '--cross-account', '--txt-ready']);
    expect(ready.status, ready.stderr).toBe(0);
    expect(ready.calls).toEqual([
      'aws cloudfront list-domain-conflicts --domain images.example.org --domain-control-validation-resource DistributionId=E1TARGET2ABC',
      'aws cloudfront get-distribution --id E1TARGET2ABC --query ETag --output text',
      'aws cloudfront update-domain-association --domain images.example.org --target-resource DistributionId=E1TARGET2ABC --if-match E2DISTETAG',
      'aws cloudfront wait distribution-deployed --id E1TARGET2ABC',
    ]);
  });

  it('refuses bad arguments with a one-line reason, before any call', () => {
    const { run } = fakeCli();
    for (const [args, reason] of [
      [['--target', 'E1TARGET2ABC'], /--domain is required/],
      [['--domain', 'images.example.org'], /--target is required/],
      [['--domain', 'Images.Example.org', '--target', 'E1TARGET2ABC'], /not a lower-case domain/],
      [['--domain', 'images.example.org', '--target', 'd111.cloudfront.net'], /not a CloudFront distribution id/],
      [['--domain', 'images.example.org', '--target', 'E1TARGET2ABC', '--force'], /unknown argument/],
      [['--domain', 'images.example.org', '--target', 'E1TARGET2ABC', '--txt-ready'], /goes with --cross-account/],
    ] as const) {
      const r = run('move-domain.sh', [...args]);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(reason);
      expect(r.calls).toEqual([]);
    }
  });
});

describe('retire-distribution.sh', () => {
  it('--dry-run prints disable, wait and delete, and calls nothing', () => {
    const { run } = fakeCli();
    const r = run('retire-distribution.sh', ['--id', 'E1OLDDIST', '--dry-run']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.calls).toEqual([]);
    const commands = r.stdout.split('\n').filter((l) => l.startsWith('+ ')).map((l) => l.split(' ').slice(1, 4).join(' '));
    expect(commands).toEqual([
      'aws cloudfront get-distribution', 'aws cloudfront list-tags-for-resource', 'aws cloudfront get-distribution-config',
      'aws cloudfront update-distribution', 'aws cloudfront wait', 'aws cloudfront delete-distribution',
    ]);
  });

  it('disables only the distribution (not nested Enabled flags), waits, then deletes with the fresh ETag', () => {
    const { run, dir } = fakeCli();
    const r = run('retire-distribution.sh', ['--id', 'E1OLDDIST', '--yes']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.calls.map((c) => c.replace(/file:\/\/\S+/, 'file://<config>'))).toEqual([
      'aws cloudfront get-distribution --id E1OLDDIST --query Distribution.ARN --output text',
      "aws cloudfront list-tags-for-resource --resource arn:aws:cloudfront::111111111111:distribution/E1OLDDIST --query Tags.Items[?Key=='aws:cloudformation:stack-name'].Value | [0] --output text",
      'aws cloudfront get-distribution-config --id E1OLDDIST --output json',
      'aws cloudfront update-distribution --id E1OLDDIST --if-match E1CONFIGETAG --distribution-config file://<config>',
      'aws cloudfront wait distribution-deployed --id E1OLDDIST',
      'aws cloudfront get-distribution --id E1OLDDIST --query ETag --output text',
      'aws cloudfront delete-distribution --id E1OLDDIST --if-match E2DISTETAG',
    ]);
    expect(JSON.parse(readFileSync(join(dir, 'sent.json'), 'utf8'))).toEqual({
      CallerReference: 'x', Enabled: false, Aliases: { Quantity: 0 }, Logging: { Enabled: true },
    });
  });

  it('refuses a distribution that still has alternate domain names', () => {
    const { run, dir } = fakeCli();
    writeFileSync(join(dir, 'config.json'), JSON.stringify({
      ETag: 'E1', DistributionConfig: { Enabled: true, Aliases: { Quantity: 1, Items: ['images.example.org'] } },
    }));
    const r = run('retire-distribution.sh', ['--id', 'E1OLDDIST', '--yes']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/still has 1 alternate domain name/);
    expect(r.calls.at(-1)).toBe('aws cloudfront get-distribution-config --id E1OLDDIST --output json');
  });

  it('refuses a distribution of a CloudFormation stack (this stack\'s own), even with --force --yes', () => {
    const { run, dir } = fakeCli();
    writeFileSync(join(dir, 'stack-tag'), 'IiifEdge\n');
    const r = run('retire-distribution.sh', ['--id', 'E1OLDDIST', '--force', '--yes']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/belongs to CloudFormation stack IiifEdge/);
    expect(r.calls.some((c) => /update-distribution|delete-distribution|get-distribution-config/.test(c))).toBe(false);
  });

  it('asks for confirmation: without a terminal and without --yes, it changes nothing', () => {
    const { run } = fakeCli();
    const r = run('retire-distribution.sh', ['--id', 'E1OLDDIST']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/needs confirmation.*--yes/);
    expect(r.calls.some((c) => /update-distribution|delete-distribution/.test(c))).toBe(false);
  });
});

describe('deploy.sh (npm run deploy:aws)', () => {
  it('invalidates /iiif/* after an update of an existing stack', () => {
    const { run } = fakeCli({ lastUpdated: ['2026-12-01T10:00:00Z', '2026-12-04T16:00:00Z', 'E1DISTID'] });
    const r = run('deploy.sh', ['--require-approval', 'never']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.calls).toEqual([
      "aws cloudformation describe-stacks --stack-name Images --query Stacks[0].LastUpdatedTime --output text",
      'npx --yes aws-cdk@2.1148.1 bootstrap',
      'npx --yes aws-cdk@2.1148.1 deploy --require-approval never',
      "aws cloudformation describe-stacks --stack-name Images --query Stacks[0].LastUpdatedTime --output text",
      "aws cloudformation describe-stacks --stack-name Images --query Stacks[0].Outputs[?OutputKey=='DistributionId'].OutputValue --output text",
      'aws cloudfront create-invalidation --distribution-id E1DISTID --paths /iiif/*',
    ]);
  });

  it('reads, deploys and invalidates the stack named by -c stackName, and gives bootstrap the -c settings', () => {
    const { run } = fakeCli({ lastUpdated: ['2026-12-01T10:00:00Z', '2026-12-04T16:00:00Z', 'E1OTHER'] });
    const r = run('deploy.sh', ['-c', 'stackName=Other', '--context=sourceBucket=my images', '--require-approval', 'never']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.calls).toEqual([
      "aws cloudformation describe-stacks --stack-name Other --query Stacks[0].LastUpdatedTime --output text",
      'npx --yes aws-cdk@2.1148.1 bootstrap -c stackName=Other -c sourceBucket=my images',
      'npx --yes aws-cdk@2.1148.1 deploy -c stackName=Other --context=sourceBucket=my images --require-approval never',
      "aws cloudformation describe-stacks --stack-name Other --query Stacks[0].LastUpdatedTime --output text",
      "aws cloudformation describe-stacks --stack-name Other --query Stacks[0].Outputs[?OutputKey=='DistributionId'].OutputValue --output text",
      'aws cloudfront create-invalidation --distribution-id E1OTHER --paths /iiif/*',
    ]);
  });

  it('reads the stack with the profile given to cdk (--profile), as cdk deploys with it', () => {
    const { run, dir } = fakeCli({ lastUpdated: ['2026-12-01T10:00:00Z', '2026-12-04T16:00:00Z', 'E1DISTID'] });
    const r = run('deploy.sh', ['--profile', 'prod', '--require-approval', 'never']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.calls).toContain('npx --yes aws-cdk@2.1148.1 deploy --profile prod --require-approval never');
    // Every aws call: the two reads of the stack, its outputs and the invalidation.
    expect(readFileSync(join(dir, 'profiles.log'), 'utf8').trim().split('\n')).toEqual(Array(4).fill('profile prod'));
    const { run: run2, dir: dir2 } = fakeCli({ lastUpdated: ['2026-12-01T10:00:00Z', '2026-12-01T10:00:00Z'] });
    expect(run2('deploy.sh', ['--profile=staging']).status).toBe(0);
    expect(readFileSync(join(dir2, 'profiles.log'), 'utf8')).toContain('profile staging');
  });

  it('takes a missing stack for a first deploy, and stops on any other failure to read it', () => {
    const first = fakeCli({ lastUpdated: ['FAIL:An error occurred (ValidationError) when calling the DescribeStacks operation: Stack with id Images does not exist', '2026-12-04T16:00:00Z'] });
    const created = first.run('deploy.sh', []);
    expect(created.status, created.stderr).toBe(0);
    expect(created.stdout).toContain('nothing to invalidate');
    const denied = fakeCli({ lastUpdated: ['FAIL:An error occurred (ExpiredToken) when calling the DescribeStacks operation: The security token included in the request is expired'] });
    const stopped = denied.run('deploy.sh', []);
    expect(stopped.status).toBe(1);
    expect(stopped.stderr).toContain('ExpiredToken');
    expect(stopped.stderr).toContain('nothing was deployed');
    expect(stopped.calls.some((c) => c.startsWith('npx'))).toBe(false);
    // Deployed, then unreadable: said, with the command that finishes the job.
    const after = fakeCli({ lastUpdated: ['2026-12-01T10:00:00Z', 'FAIL:An error occurred (Throttling) when calling the DescribeStacks operation: Rate exceeded'] });
    const unread = after.run('deploy.sh', []);
    expect(unread.status).toBe(1);
    expect(unread.stderr).toContain('npm run deploy:invalidate');
  });

  it('skips the invalidation when nothing changed', () => {
    const { run } = fakeCli({ lastUpdated: ['2026-12-01T10:00:00Z', '2026-12-01T10:00:00Z'] });
    const r = run('deploy.sh', []);
    expect(r.status, r.stderr).toBe(0);
    expect(r.calls.some((c) => c.includes('create-invalidation'))).toBe(false);
    expect(r.stdout).toContain('nothing to invalidate');
  });
});
