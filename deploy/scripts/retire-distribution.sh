#!/bin/sh
# Retires the old distribution after the cut-over: disables it, waits until that is deployed (typically
# a few minutes), then deletes it. Refuses while it still has alternate domain names (move them first:
# move-domain.sh) unless --force, and always refuses a distribution of a CloudFormation stack (this
# stack's own, say). Asks for the id to be typed back unless --yes.
#
#   sh deploy/scripts/retire-distribution.sh --id E1OLDDIST [--force] [--yes] [--dry-run]
#
# --dry-run prints the aws commands and runs none.
set -eu
. "$(dirname "$0")/lib.sh"

id='' force=0 yes=0
while [ $# -gt 0 ]; do
  case "$1" in
    --id) id=${2:-}; shift 2 ;;
    --force) force=1; shift ;;
    --yes) yes=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "retire-distribution: unknown argument '$1' (see --help)" ;;
  esac
done
[ -n "$id" ] || die 'retire-distribution: --id is required: the old distribution id'
printf '%s' "$id" | grep -Eq '^E[A-Z0-9]{5,20}$' || die "retire-distribution: '$id' is not a CloudFront distribution id"
export DRY_RUN="${DRY_RUN:-0}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# node edits the JSON: the repository needs it anyway, and jq may be missing.
json() { node -e "const d=JSON.parse(require('fs').readFileSync(0,'utf8')); $1"; }

STACK_TAG="Tags.Items[?Key=='aws:cloudformation:stack-name'].Value | [0]"
if [ "$DRY_RUN" = 1 ]; then
  show aws cloudfront get-distribution --id "$id" --query Distribution.ARN --output text
  show aws cloudfront list-tags-for-resource --resource '<its ARN>' --query "$STACK_TAG" --output text
  show aws cloudfront get-distribution-config --id "$id" --output json
  etag='<ETag>'
  echo '(the config with Enabled set to false is written to a temporary file)'
else
  arn=$(aws cloudfront get-distribution --id "$id" --query Distribution.ARN --output text)
  stack=$(aws cloudfront list-tags-for-resource --resource "$arn" --query "$STACK_TAG" --output text)
  if [ -n "$stack" ] && [ "$stack" != None ]; then
    die "retire-distribution: $id belongs to CloudFormation stack $stack: update or delete that stack instead"
  fi
  aws cloudfront get-distribution-config --id "$id" --output json > "$work/current.json"
  etag=$(json 'process.stdout.write(d.ETag)' < "$work/current.json")
  aliases=$(json 'process.stdout.write(String((d.DistributionConfig.Aliases||{}).Quantity||0))' < "$work/current.json")
  if [ "$aliases" != 0 ] && [ "$force" = 0 ]; then
    die "retire-distribution: $id still has $aliases alternate domain name(s); move them first (move-domain.sh) or use --force"
  fi
  if [ "$yes" = 0 ]; then
    [ -t 0 ] || die "retire-distribution: deleting $id needs confirmation: run it in a terminal, or add --yes"
    printf 'Disable and delete distribution %s? Type its id to confirm: ' "$id"
    read -r answer
    [ "$answer" = "$id" ] || die 'retire-distribution: not confirmed; nothing changed'
  fi
  json 'd.DistributionConfig.Enabled=false; process.stdout.write(JSON.stringify(d.DistributionConfig))' < "$work/current.json" > "$work/disabled.json"
fi
run aws cloudfront update-distribution --id "$id" --if-match "$etag" --distribution-config "file://$work/disabled.json"
run aws cloudfront wait distribution-deployed --id "$id"
if [ "$DRY_RUN" = 1 ]; then
  etag='<ETag after disabling>'
else
  etag=$(aws cloudfront get-distribution --id "$id" --query ETag --output text)
fi
run aws cloudfront delete-distribution --id "$id" --if-match "$etag"
echo "deleted $id"
