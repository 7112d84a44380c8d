#!/usr/bin/env bash
# Builds the `plangen` binary that ships with profile-guided optimisation: the release
# profile (fat LTO) built instrumented, run under the training workload
# (`services/gateway/examples/pgo_workload`: reads, writes, logins, refusals through the
# gateway, in the proportions people make them), then rebuilt with the merged profile.
#
#   services/plangen/pgo-build.sh [OUT]        # OUT default: <target>/pgo/plangen
#
# Training, in turn:
#   1. `plangen all` on a fresh embedded store (SQLite, state in process), the SPA's files
#      from PLANGEN_SPA_DIR (default frontend/dist) when built;
#   2. when PGO_DATABASE_URL is set (a PostgreSQL database of its own, e.g.
#      postgres://postgres@127.0.0.1:5432/plangen_pgo): every service as its own process, as
#      the operator deploys them — auth on that database and Redis (REDIS_HOST/REDIS_PORT/
#      REDIS_PASSWORD, default 127.0.0.1:6379), template and plan on PGO_MONGODB_URL when set
#      (else a SQLite file each), the gateway counting and checking sessions in Redis.
# Code a training run never reaches is optimised as cold, so the deployed shape (2) belongs in
# the training of anything deployed with those backends.
#
# Needs the llvm-profdata of rustc's LLVM (`apt-get install llvm-22` on Debian for Rust 1.95,
# or `rustup component add llvm-tools`) and curl. PGO_USERS (8) clients at once, PGO_ROUNDS
# (200) rounds each per training run; PGO_PORT_BASE (18190) and the next four ports for (2).
set -euo pipefail

cd "$(dirname "$0")/../.."
target_dir=$(realpath -m "${CARGO_TARGET_DIR:-target}")
out=${1:-$target_dir/pgo/plangen}
users=${PGO_USERS:-8}
rounds=${PGO_ROUNDS:-200}
port_base=${PGO_PORT_BASE:-18190}
spa_dir=${PLANGEN_SPA_DIR:-frontend/dist}

llvm=$(rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')
host=$(rustc -vV | sed -n 's/^host: //p')
profdata=
for candidate in "llvm-profdata-$llvm" "/usr/lib/llvm-$llvm/bin/llvm-profdata" \
    "$(rustc --print sysroot)/lib/rustlib/$host/bin/llvm-profdata"; do
  if command -v "$candidate" >/dev/null; then profdata=$candidate; break; fi
done
[[ -n $profdata ]] || { echo "pgo-build: needs llvm-profdata of LLVM $llvm" \
  "(apt-get install llvm-$llvm, or rustup component add llvm-tools)" >&2; exit 1; }
command -v curl >/dev/null || { echo "pgo-build: needs curl" >&2; exit 1; }

# A fixed profile path in the flags (LLVM_PROFILE_FILE says where each run writes), so the
# instrumented build is reused from one run to the next. `--target` keeps the flags off build
# scripts and proc macros: only what runs in the binary is instrumented.
train_target=$target_dir/pgo-train
train_flags="-Cprofile-generate=$train_target/profile"
build() {
  CARGO_TARGET_DIR=$1 RUSTFLAGS=$2 cargo build --locked --release --target "$host" "${@:3}"
}
echo "pgo-build: building instrumented (release profile, $train_target)"
build "$train_target" "$train_flags" -p plangen --bin plangen
# The workload's own profile is written elsewhere and thrown away.
build "$train_target" "$train_flags" -p plangen-gateway --example pgo_workload
plangen_bin=$train_target/$host/release/plangen
workload_bin=$train_target/$host/release/examples/pgo_workload

work=$(mktemp -d)
pids=()
stop_all() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  # Each instrumented process writes its profile as it exits.
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
trap 'stop_all; rm -rf "$work"' EXIT
profile=$work/profile
mkdir -p "$profile" "$work/discard"

# `start NAME [VAR=value...] -- ARGS...`: `plangen ARGS...` instrumented, in the caller's
# environment without storage, Redis or port settings plus the given ones, its output in
# $work/NAME.log.
start() {
  local name=$1 vars=()
  shift
  while [[ $1 != -- ]]; do vars+=("$1"); shift; done
  shift
  env -u DATABASE_URL -u DATABASE_NAME -u REDIS_HOST -u PORT "${vars[@]}" \
    LLVM_PROFILE_FILE="$profile/$name-%p-%m.profraw" "$plangen_bin" "$@" >"$work/$name.log" 2>&1 &
  pids+=($!)
}

# Waits until `$1/readyz` answers 200; the log of `$2` when it does not.
wait_ready() {
  local _
  for _ in $(seq 1 300); do
    curl -sf -o /dev/null "$1/readyz" && return 0
    sleep 0.1
  done
  echo "pgo-build: $2 did not become ready at $1" >&2
  cat "$work/$2.log" >&2
  exit 1
}

train() {
  LLVM_PROFILE_FILE="$work/discard/%p.profraw" "$workload_bin" "$1" "$users" "$rounds"
}

# Budgets that never bind: every training request comes from one address.
export RATE_LIMIT_MAX_REQUESTS=1000000000 AUTH_RATE_LIMIT_MAX_REQUESTS=1000000000
export ALLOWED_ORIGINS=http://localhost:5173 RUST_LOG=info

echo "pgo-build: training on plangen all (embedded)"
start all -- all --port 0 --data-dir "$work/embedded" --spa-dir "$spa_dir"
url=
for _ in $(seq 1 300); do
  url=$(sed -n 's/^plangen: listening on //p' "$work/all.log")
  [[ -n $url ]] && break
  sleep 0.1
done
[[ -n $url ]] || { echo "pgo-build: plangen all did not start" >&2; cat "$work/all.log" >&2; exit 1; }
wait_ready "$url" all
train "$url"
stop_all

if [[ -n ${PGO_DATABASE_URL:-} ]]; then
  echo "pgo-build: training on the services as deployed (PostgreSQL, Redis${PGO_MONGODB_URL:+, MongoDB})"
  random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
  secrets=(ACCESS_TOKEN_SECRET="$(random_hex 32)" REFRESH_TOKEN_SECRET="$(random_hex 32)")
  redis=(REDIS_HOST="${REDIS_HOST:-127.0.0.1}" REDIS_PORT="${REDIS_PORT:-6379}")
  gateway=http://127.0.0.1:$port_base auth=http://127.0.0.1:$((port_base + 1))
  template=http://127.0.0.1:$((port_base + 2)) plan=http://127.0.0.1:$((port_base + 3))
  # Not part of the profile (a one-off); without LLVM_PROFILE_FILE it would leave its counts
  # in the instrumented build's directory, run after run.
  DATABASE_URL=$PGO_DATABASE_URL LLVM_PROFILE_FILE="$work/discard/%p.profraw" \
    "$plangen_bin" migrate >"$work/migrate.log" 2>&1 ||
    { cat "$work/migrate.log" >&2; exit 1; }
  start auth "${secrets[@]}" "${redis[@]}" DATABASE_URL="$PGO_DATABASE_URL" \
    PORT=$((port_base + 1)) -- auth
  # MongoDB: a database of this run's own, so earlier runs' documents do not pile up.
  if [[ -n ${PGO_MONGODB_URL:-} ]]; then
    store=(DATABASE_URL="$PGO_MONGODB_URL" DATABASE_NAME="plangen_pgo_$(random_hex 6)")
    template_store=("${store[@]}") plan_store=("${store[@]}")
  else
    template_store=(DATABASE_URL="sqlite:$work/template.db")
    plan_store=(DATABASE_URL="sqlite:$work/plan.db")
  fi
  start template "${secrets[@]}" "${template_store[@]}" PORT=$((port_base + 2)) -- template
  start plan "${secrets[@]}" "${plan_store[@]}" TEMPLATE="$template" \
    PORT=$((port_base + 3)) -- plan
  start gateway "${secrets[@]}" "${redis[@]}" AUTH="$auth" TEMPLATE="$template" PLAN="$plan" \
    PLANGEN_SPA_DIR="$spa_dir" PORT=$port_base -- gateway
  wait_ready "$auth" auth
  wait_ready "$template" template
  wait_ready "$plan" plan
  wait_ready "$gateway" gateway
  train "$gateway"
  stop_all
fi

# One binary serves every process, and its profile says what is hot in all of them together.
# Merged as recorded, the gateway — alone in its pods, on every request's path — was a tenth of
# the counts (the embedded whole and the storage-heavy services outweighed it) and its path
# looked lukewarm; so each process — the embedded whole, and each deployed service — is merged
# on its own and weighted to about the same total count.
weighted=()
declare -A totals
max_total=1
for name in all gateway auth template plan; do
  compgen -G "$profile/$name-*.profraw" >/dev/null || continue
  "$profdata" merge -o "$work/$name.profdata" "$profile/$name"-*.profraw
  totals[$name]=$("$profdata" show --detailed-summary "$work/$name.profdata" |
    sed -n 's/^Total count: //p')
  (( totals[$name] > max_total )) && max_total=${totals[$name]}
done
for name in "${!totals[@]}"; do
  weight=$(( (max_total + totals[$name] / 2) / totals[$name] ))
  (( weight < 1 )) && weight=1
  echo "pgo-build: profile of $name: ${totals[$name]} counts, weight $weight"
  weighted+=("--weighted-input=$weight,$work/$name.profdata")
done
"$profdata" merge -o "$work/plangen.profdata" "${weighted[@]}"
echo "pgo-build: building with the profile ($target_dir/pgo)"
build "$target_dir/pgo" "-Cprofile-use=$work/plangen.profdata" -p plangen --bin plangen
mkdir -p "$(dirname "$out")"
cp "$target_dir/pgo/$host/release/plangen" "$out.tmp" && mv "$out.tmp" "$out"
echo "pgo-build: $out"
