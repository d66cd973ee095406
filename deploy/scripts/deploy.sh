#!/bin/sh
# `npm run deploy:aws` after the build: CDK bootstrap and deploy, then, if the deploy updated an existing
# stack (CloudFormation's LastUpdatedTime moved), an invalidation of /iiif/*, since cached info.json and
# images may no longer match what the function answers. A first deploy or a no-change deploy skips it.
# Extra arguments go to `cdk deploy` (e.g. --require-approval never); its `-c key=value` settings go to
# `cdk bootstrap` too, which synthesises the app, and its --profile to the aws commands here.
# Stack: `-c stackName=…`, else IIIF_EDGE_STACK_NAME (IiifEdge).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
stack="${IIIF_EDGE_STACK_NAME:-IiifEdge}"
quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
context=''
prev=''
for arg in "$@"; do
  setting=''
  case "$prev" in -c|--context) setting=$arg ;; --profile) export AWS_PROFILE="$arg" ;; esac
  case "$arg" in --context=*) setting=${arg#--context=} ;; --profile=*) export AWS_PROFILE="${arg#--profile=}" ;; esac
  if [ -n "$setting" ]; then
    context="$context -c $(quote "$setting")"
    case "$setting" in stackName=*) stack=${setting#stackName=} ;; esac
  fi
  prev=$arg
done
err=$(mktemp)
trap 'rm -f "$err"' EXIT
# The stack's LastUpdatedTime, or "absent"; any other failure (credentials, region) stops the script.
updated() {
  if aws cloudformation describe-stacks --stack-name "$stack" --query 'Stacks[0].LastUpdatedTime' --output text 2>"$err"; then return 0; fi
  if grep -q 'does not exist' "$err"; then echo absent; return 0; fi
  cat "$err" >&2
  return 1
}
before=$(updated) || { echo "could not read stack $stack before deploying (above): nothing was deployed" >&2; exit 1; }
(cd "$here/.." && eval "npx --yes aws-cdk@2.1148.1 bootstrap$context" && npx --yes aws-cdk@2.1148.1 deploy "$@")
after=$(updated) || { echo "stack $stack was deployed but could not be read (above): run npm run deploy:invalidate" >&2; exit 1; }
if [ "$before" = absent ] || [ "$after" = "$before" ]; then
  echo "no update of an existing stack: nothing to invalidate"
else
  IIIF_EDGE_STACK_NAME="$stack" sh "$here/invalidate.sh"
fi
