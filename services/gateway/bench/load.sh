#!/usr/bin/env bash
# Load benchmark: requests/s and p50/p99 latency for one GET
#   1. directly against the upstream,
#   2. through the Plangen gateway (every edge layer on, JWT checked),
#   2b. through the gateway's proxy alone (no edge layers), to separate proxy and policy cost,
#   3. through nginx as a reverse proxy on the same upstream (when nginx is installed).
# Needs wrk (`apt-get install -y wrk nginx`). Run from the repository root:
#   services/gateway/bench/load.sh            # 10 s per target, 64 connections, 2 threads
#   DURATION=30s CONNECTIONS=128 services/gateway/bench/load.sh
#   BENCH_ACCESS_LOG=1 services/gateway/bench/load.sh   # JSON access log on (gateway and nginx)
# PROFILE=release (default) builds optimised; PROFILE=dev-opt builds the dev profile with the
# Plangen crates at opt-level 3 (dependencies are already optimised in dev), which is much
# cheaper on a machine that already has a dev build; PROFILE=dev measures unoptimised code.
set -euo pipefail

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
UPSTREAM_PORT=${BENCH_UPSTREAM_PORT:-18081}
GATEWAY_PORT=${BENCH_GATEWAY_PORT:-18080}
NGINX_PORT=${BENCH_NGINX_PORT:-18082}
PROFILE=${PROFILE:-release}
PATH_UNDER_TEST=/api/templates/bench

command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install -y wrk)" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [[ -f "$work/nginx.pid" ]] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

target_dir=${CARGO_TARGET_DIR:-target}
case "$PROFILE" in
  release) flags=(--release); bin="$target_dir/release/examples/bench_servers" ;;
  dev-opt) flags=(--config 'profile.dev.package.plangen-gateway.opt-level=3'
                  --config 'profile.dev.package.plangen-core.opt-level=3')
           bin="$target_dir/debug/examples/bench_servers" ;;
  *)       flags=(); bin="$target_dir/debug/examples/bench_servers" ;;
esac
cargo build -q -p plangen-gateway --example bench_servers "${flags[@]}"

BARE_PORT=${BENCH_BARE_PORT:-18083}
# Upstream and gateway in separate processes, as deployed (and as nginx is measured).
BENCH_UPSTREAM_PORT=$UPSTREAM_PORT RUST_LOG=off "$bin" upstream >"$work/upstream.log" 2>&1 &
upstream_pid=$!
pids+=($upstream_pid)
# BENCH_ACCESS_LOG=1: the gateway writes its JSON access log (to /dev/null) and nginx its own.
if [[ ${BENCH_ACCESS_LOG:-0} == 1 ]]; then log_level=info; nginx_log=/dev/null; else log_level=off; nginx_log=off; fi
BENCH_UPSTREAM_PORT=$UPSTREAM_PORT BENCH_GATEWAY_PORT=$GATEWAY_PORT BENCH_BARE_PORT=$BARE_PORT \
  RUST_LOG=$log_level "$bin" gateway >/dev/null 2>"$work/gateway.log" &
gateway_pid=$!
pids+=($gateway_pid)
for _ in $(seq 1 100); do grep -q '^ready' "$work/gateway.log" "$work/upstream.log" 2>/dev/null \
  && [[ $(grep -l '^ready' "$work/gateway.log" "$work/upstream.log" | wc -l) == 2 ]] && break; sleep 0.1; done
grep -q '^ready' "$work/gateway.log" || { cat "$work/gateway.log" >&2; exit 1; }
token=$(sed -n 's/^TOKEN=//p' "$work/gateway.log")

have_nginx=false
if command -v nginx >/dev/null; then
  have_nginx=true
  cat >"$work/nginx.conf" <<EOF
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log $nginx_log;
  client_body_temp_path $work;
  proxy_temp_path $work;
  fastcgi_temp_path $work;
  uwsgi_temp_path $work;
  scgi_temp_path $work;
  upstream app { server 127.0.0.1:$UPSTREAM_PORT; keepalive 256; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    }
  }
}
EOF
  nginx -c "$work/nginx.conf" -p "$work" -g 'daemon on;'
  sleep 0.5
fi

# CPU time (user + system, in clock ticks) of the given processes so far.
cpu_ticks() {
  local total=0 pid
  for pid in "$@"; do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  echo "$total"
}

# wrk --latency prints the distribution; pick requests/s, p50 and p99. The CPU the proxy (the
# processes given after `--`) spent per request is read from /proc: on a machine whose cores
# wrk shares, it is the figure that does not depend on what else runs.
run() {
  local name=$1 url=$2
  shift 2
  local wrk_args=() proc_pids=()
  while [[ $# -gt 0 && $1 != -- ]]; do wrk_args+=("$1"); shift; done
  [[ $# -gt 0 ]] && shift
  proc_pids=("$@")
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "${wrk_args[@]}" "$url" >/dev/null # warm-up of pools
  local out before after
  before=$(cpu_ticks "${proc_pids[@]}")
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "${wrk_args[@]}" "$url")
  after=$(cpu_ticks "${proc_pids[@]}")
  local rps p50 p99 requests cpu_us
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  cpu_us=$(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$requests" \
    'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
  if grep -q 'Non-2xx' <<<"$out"; then echo "$name: non-2xx answers!" >&2; echo "$out" >&2; fi
  printf '| %-22s | %12s | %8s | %8s | %11s |\n' "$name" "$rps" "$p50" "$p99" "$cpu_us"
}

table() {
  echo
  echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION, GET $PATH_UNDER_TEST, profile $PROFILE, $(nproc) cores, access log ${BENCH_ACCESS_LOG:-0}"
  printf '| %-22s | %12s | %8s | %8s | %11s |\n' target 'requests/s' p50 p99 'CPU µs/req'
  printf '|%s|%s|%s|%s|%s|\n' ------------------------ -------------- ---------- ---------- -------------
  run "upstream (direct)" "http://127.0.0.1:$UPSTREAM_PORT$PATH_UNDER_TEST" -- "$upstream_pid"
  run "plangen gateway" "http://127.0.0.1:$GATEWAY_PORT/api/v1/templates/bench" -H "Authorization: Bearer $token" -- "$gateway_pid"
  run "gateway, proxy only" "http://127.0.0.1:$BARE_PORT/api/v1/templates/bench" -- "$gateway_pid"
  if $have_nginx; then
    run "nginx reverse proxy" "http://127.0.0.1:$NGINX_PORT$PATH_UNDER_TEST" -- $(pgrep -P "$(cat "$work/nginx.pid")")
  else
    echo "(nginx not installed: apt-get install -y nginx for the third figure)"
  fi
}

# Saturation: as many requests as the cores allow (throughput, and latency under overload).
table
# One request at a time (LIGHT_CONNECTIONS, default 1, one wrk thread): the latency a request
# gains from each hop when it never queues for a core.
CONNECTIONS=${LIGHT_CONNECTIONS:-1} THREADS=1 table
