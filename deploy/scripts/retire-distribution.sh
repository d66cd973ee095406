#!/bin/sh
# Retires the old distribution after the cut-over: disables it, waits until that is deployed (typically
# a few minutes), then deletes it. Refuses while it still has alternate domain names (move them first:
# move-domain.sh) unless --force.
#
#   sh deploy/scripts/retire-distribution.sh --id E1OLDDIST [--force] [--dry-run]
#
# --dry-run prints the aws commands and runs none.
set -eu
. "$(dirname "$0")/lib.sh"

id='' force=0
while [ $# -gt 0 ]; do
  case "$1" in
    --id) id=${2:-}; shift 2 ;;
    --force) force=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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

if [ "$DRY_RUN" = 1 ]; then
  show aws cloudfront get-distribution-config --id "$id" --output json
  etag='<ETag>'
  echo '(the config with Enabled set to false is written to a temporary file)'
else
  aws cloudfront get-distribution-config --id "$id" --output json > "$work/current.json"
  etag=$(json 'process.stdout.write(d.ETag)' < "$work/current.json")
  aliases=$(json 'process.stdout.write(String((d.DistributionConfig.Aliases||{}).Quantity||0))' < "$work/current.json")
  if [ "$aliases" != 0 ] && [ "$force" = 0 ]; then
    die "retire-distribution: $id still has $aliases alternate domain name(s); move them first (move-domain.sh) or use --force"
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
