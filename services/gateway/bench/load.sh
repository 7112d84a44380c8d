#!/usr/bin/env bash
# Load benchmark: requests/s and p50/p99 latency for one GET
#   1. directly against the upstream,
#   2. through the Plangen gateway (every edge layer on, JWT checked),
#   2b. through the gateway's proxy alone (no edge layers), to separate proxy and policy cost,
#   3. through nginx as a reverse proxy on the same upstream (when nginx is installed).
# Needs wrk (`apt-get install -y wrk nginx`). Run from the repository root:
#   services/gateway/bench/load.sh            # 10 s per target, 64 connections, 2 threads
#   DURATION=30s CONNECTIONS=128 services/gateway/bench/load.sh
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
BENCH_UPSTREAM_PORT=$UPSTREAM_PORT BENCH_GATEWAY_PORT=$GATEWAY_PORT BENCH_BARE_PORT=$BARE_PORT RUST_LOG=off "$bin" >"$work/servers.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do grep -q '^ready' "$work/servers.log" 2>/dev/null && break; sleep 0.1; done
grep -q '^ready' "$work/servers.log" || { cat "$work/servers.log" >&2; exit 1; }
token=$(sed -n 's/^TOKEN=//p' "$work/servers.log")

have_nginx=false
if command -v nginx >/dev/null; then
  have_nginx=true
  cat >"$work/nginx.conf" <<EOF
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
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

# wrk --latency prints the distribution; pick requests/s, p50 and p99.
run() {
  local name=$1 url=$2
  shift 2
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$@" "$url" >/dev/null # warm-up of pools
  local out
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$@" "$url")
  local rps p50 p99
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  if grep -q 'Non-2xx' <<<"$out"; then echo "$name: non-2xx answers!" >&2; echo "$out" >&2; fi
  printf '| %-22s | %12s | %8s | %8s |\n' "$name" "$rps" "$p50" "$p99"
}

echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION, GET $PATH_UNDER_TEST, profile $PROFILE, $(nproc) cores"
printf '| %-22s | %12s | %8s | %8s |\n' target 'requests/s' p50 p99
printf '|%s|%s|%s|%s|\n' ------------------------ -------------- ---------- ----------
run "upstream (direct)" "http://127.0.0.1:$UPSTREAM_PORT$PATH_UNDER_TEST"
run "plangen gateway" "http://127.0.0.1:$GATEWAY_PORT/api/v1/templates/bench" -H "Authorization: Bearer $token"
run "gateway, proxy only" "http://127.0.0.1:$BARE_PORT/api/v1/templates/bench"
if $have_nginx; then
  run "nginx reverse proxy" "http://127.0.0.1:$NGINX_PORT$PATH_UNDER_TEST"
else
  echo "(nginx not installed: apt-get install -y nginx for the third figure)"
fi
