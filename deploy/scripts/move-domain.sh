#!/bin/sh
# Moves an alternate domain name (CNAME) from the distribution that has it to the iiif-edge distribution,
# with CloudFront's domain-association API. Run it with credentials of the account that owns the TARGET.
#
#   sh deploy/scripts/move-domain.sh --domain images.example.org --target E1TARGET [--cross-account [--txt-ready]] [--dry-run]
#
# Before: the target needs a certificate (ACM, us-east-1) covering the domain: deploy the stack with
# certificateArn (or hostedZone) but without domainNames, or attach one. Same account: one call moves the
# domain. Cross-account (the old distribution is in another account): CloudFront checks that you control
# the domain by a DNS TXT record `_<domain>` whose value is the target's domain name (d123.cloudfront.net),
# and the source distribution must be disabled first. --cross-account prints the record and stops; once it
# resolves and the old distribution is disabled, run again with --txt-ready to move the domain.
# Afterwards point DNS at the target (or let the stack's Route 53 records do it), add the domain to the
# stack (domainNames) so it keeps it, and invalidate. --dry-run prints the aws commands and runs none.
set -eu
. "$(dirname "$0")/lib.sh"

domain='' target='' cross=0 ready=0
while [ $# -gt 0 ]; do
  case "$1" in
    --domain) domain=${2:-}; shift 2 ;;
    --target) target=${2:-}; shift 2 ;;
    --cross-account) cross=1; shift ;;
    --txt-ready) ready=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "move-domain: unknown argument '$1' (see --help)" ;;
  esac
done
[ -n "$domain" ] || die 'move-domain: --domain is required, e.g. --domain images.example.org'
[ -n "$target" ] || die 'move-domain: --target is required: the iiif-edge DistributionId (stack output)'
printf '%s' "$domain" | grep -Eq '^([a-z0-9-]+\.)+[a-z]{2,}$' || die "move-domain: '$domain' is not a lower-case domain name"
printf '%s' "$target" | grep -Eq '^E[A-Z0-9]{5,20}$' || die "move-domain: '$target' is not a CloudFront distribution id"
[ "$ready" = 0 ] || [ "$cross" = 1 ] || die 'move-domain: --txt-ready goes with --cross-account'
export DRY_RUN="${DRY_RUN:-0}"

# Which distribution has the domain now (needs the target's certificate to cover it).
run aws cloudfront list-domain-conflicts --domain "$domain" --domain-control-validation-resource "DistributionId=$target"

# Cross-account, CloudFront checks the TXT record itself when the domain moves: until it exists, stop.
if [ "$cross" = 1 ] && [ "$ready" = 0 ]; then
  if [ "$DRY_RUN" = 1 ]; then
    name='<target domain name>'
  else
    name=$(aws cloudfront get-distribution --id "$target" --query Distribution.DomainName --output text)
  fi
  echo "Cross-account move: disable the old distribution in its account, and create this DNS record:"
  echo "  _$domain TXT \"$name\""
  echo "Once it resolves, run this again with --cross-account --txt-ready to move the domain."
  exit 0
fi

if [ "$DRY_RUN" = 1 ]; then
  etag='<ETag of the target>'
else
  etag=$(aws cloudfront get-distribution --id "$target" --query ETag --output text)
fi
run aws cloudfront update-domain-association --domain "$domain" --target-resource "DistributionId=$target" --if-match "$etag"
run aws cloudfront wait distribution-deployed --id "$target"
echo "moved $domain to $target: point DNS at it, add it to the stack's domainNames, then npm run deploy:invalidate"
