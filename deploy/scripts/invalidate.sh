#!/bin/sh
# Invalidates /iiif/* on the stack's CloudFront distribution. Run it after changing what cached
# responses contain: the public host (ForceHost / DomainName), CORS settings, or source images.
# Stack name: IIIF_EDGE_STACK_NAME (default IiifEdge); region: AWS_REGION / your AWS CLI profile.
set -eu
stack="${IIIF_EDGE_STACK_NAME:-IiifEdge}"
id=$(aws cloudformation describe-stacks --stack-name "$stack" \
  --query "Stacks[0].Outputs[?OutputKey=='DistributionId'].OutputValue" --output text)
if [ -z "$id" ] || [ "$id" = "None" ]; then
  echo "no DistributionId output on stack $stack" >&2
  exit 1
fi
aws cloudfront create-invalidation --distribution-id "$id" --paths '/iiif/*'
