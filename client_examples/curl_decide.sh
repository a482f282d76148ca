#!/bin/sh
# Decide one case over HTTP/JSON (the Connect protocol): no gRPC, no generated code.
#
#   client_examples/curl_decide.sh [REQUEST.json]     (default: cases/decide_request.json)
#   CSE_HTTP=http://localhost:8080 client_examples/curl_decide.sh
#
# Prints the DecideResponse as JSON. On a refusal prints the Connect error JSON
# ({"code": "invalid_argument", ..., "details": [{"debug": {"fieldViolations": [...]}}]})
# and exits 22, curl's code for an HTTP error status.
set -eu
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
request=${1:-"$here/cases/decide_request.json"}
base=${CSE_HTTP:-http://localhost:8080}

curl --silent --show-error --fail-with-body --max-time 30 \
  --header 'Content-Type: application/json' \
  --data-binary "@$request" \
  "$base/collection_strategy.v1.CollectionStrategyService/Decide"
echo
