#!/bin/sh
# `npm run deploy:aws` after the build: CDK bootstrap and deploy, then, if the deploy updated an existing
# stack (CloudFormation's LastUpdatedTime moved), an invalidation of /iiif/*, since cached info.json and
# images may no longer match what the function answers. A first deploy or a no-change deploy skips it.
# Extra arguments go to `cdk deploy` (e.g. --require-approval never). Stack: IIIF_EDGE_STACK_NAME (IiifEdge).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
stack="${IIIF_EDGE_STACK_NAME:-IiifEdge}"
updated() {
  aws cloudformation describe-stacks --stack-name "$stack" --query 'Stacks[0].LastUpdatedTime' --output text 2>/dev/null || echo absent
}
before=$(updated)
(cd "$here/.." && npx --yes aws-cdk@2.1148.1 bootstrap && npx --yes aws-cdk@2.1148.1 deploy "$@")
after=$(updated)
if [ "$before" = absent ] || [ "$after" = "$before" ]; then
  echo "no update of an existing stack: nothing to invalidate"
else
  sh "$here/invalidate.sh"
fi
