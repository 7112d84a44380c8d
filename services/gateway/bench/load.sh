#!/usr/bin/env bash
# Load benchmark: requests/s, p50/p99 latency and CPU per request for one GET
#   1. directly against the upstream,
#   2. through the Plangen gateway — the `plangen` binary's `gateway`, configured by environment
#      as deployed (every edge layer on, JWT checked, rate limited),
#   3. through the gateway's proxy alone (no edge layer), to separate proxy and policy cost,
#   4. through nginx as a plain reverse proxy on the same upstream,
#   5. through nginx doing the part of the gateway's edge work nginx can do (Helmet's headers,
#      request id, forwarding headers, upstream headers hidden, a per-client limit_req) and
#      answering with as many bytes as the gateway (fixed RateLimit headers of the same length),
# (4 and 5 when nginx is installed). Every target gets the same request, bearer token included
# (what a client of plans and templates sends), so they differ only in what serves it. Besides
# each target's own CPU per request, the upstream's is shown: what a proxy forwards (headers,
# connection reuse) is work for the upstream too. Needs wrk (`apt-get install -y wrk nginx`). From the
# repository root:
#   services/gateway/bench/load.sh                 # 3 rounds, 10 s per target, -t2 -c64
#   ROUNDS=5 DURATION=20s CONNECTIONS=128 services/gateway/bench/load.sh
#   BENCH_ACCESS_LOG=1 services/gateway/bench/load.sh   # JSON access log on (gateway and nginx)
#   BENCH_REDIS=1 services/gateway/bench/load.sh        # gateway counts and checks sessions in
#                                                       # Redis (REDIS_HOST/PORT, default local)
#   PROFILE=pgo PLANGEN_BIN=target/pgo/plangen services/gateway/bench/load.sh
#                                  # measure a `plangen` built before (`make release`)
# The targets take turns within each round and the median round is printed: on a machine
# shared with other work the figures of one run swing by ±15%, the order of the targets by far
# less. PROFILE=release (default) builds optimised (fat LTO); PROFILE=pgo measures the
# `plangen` binary that ships, built by services/plangen/pgo-build.sh (release profile,
# instrumented, trained on the platform's workload — not on this benchmark's request —, rebuilt
# with the profile; needs the llvm-profdata of rustc's LLVM version: `apt-get install llvm-22`
# on Debian for Rust 1.95, or `rustup component add llvm-tools`; PGO_DATABASE_URL and
# PGO_MONGODB_URL are passed on to it);
# PROFILE=dev-opt builds the dev profile with the Plangen crates at opt-level 3 (much cheaper
# when a dev build exists).
set -euo pipefail

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
UPSTREAM_PORT=${BENCH_UPSTREAM_PORT:-18081}
GATEWAY_PORT=${BENCH_GATEWAY_PORT:-18080}
NGINX_PORT=${BENCH_NGINX_PORT:-18082}
NGINX_EDGE_PORT=${BENCH_NGINX_EDGE_PORT:-18085}
BARE_PORT=${BENCH_BARE_PORT:-18083}
PROFILE=${PROFILE:-release}
PATH_UNDER_TEST=/api/templates/bench

command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install -y wrk)" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for f in "$work"/nginx*.pid; do [[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

target_dir=${CARGO_TARGET_DIR:-target}
# The gateway measured is the `plangen` binary's (`plangen gateway`, configured as deployed);
# `bench_servers` (services/gateway/examples) serves the upstream, mints the token and runs the
# proxy alone.
case "$PROFILE" in
  release|pgo) flags=(--release); out=release ;;
  dev-opt) flags=(--config 'profile.dev.package.plangen-gateway.opt-level=3'
                  --config 'profile.dev.package.plangen-core.opt-level=3'
                  --config 'profile.dev.package.plangen.opt-level=3')
           out=debug ;;
  *)       flags=(); out=debug ;;
esac
cargo build -q -p plangen-gateway --example bench_servers "${flags[@]}"
bench_bin=$target_dir/$out/examples/bench_servers
if [[ -n ${PLANGEN_BIN:-} ]]; then
  plangen_bin=$PLANGEN_BIN # a binary built before (`make release`: target/pgo/plangen)
elif [[ $PROFILE == pgo ]]; then
  # What ships: built and trained by the same script as the image (services/plangen/pgo-build.sh).
  services/plangen/pgo-build.sh "$work/plangen"
  plangen_bin=$work/plangen
else
  cargo build -q -p plangen --bin plangen "${flags[@]}"
  plangen_bin=$target_dir/$out/plangen
fi
secret=bench-secret-0123456789abcdef0123456789

# Starts `bench_servers upstream`, `bench_servers proxy` (the proxy alone on BARE_PORT) and
# `plangen gateway` on GATEWAY_PORT, each its own
# process as deployed and as nginx is measured; the gateway's RUST_LOG `$1`, its output to `$2`.
# Waits until all listen. Sets upstream_pid, gateway_pid, bare_pid and token (a valid bearer
# token for the gateway).
start_servers() {
  local log_level=$1 gateway_out=$2 redis=()
  if [[ ${BENCH_REDIS:-0} == 1 ]]; then redis=(REDIS_HOST="${REDIS_HOST:-127.0.0.1}"); fi
  BENCH_UPSTREAM_PORT="$UPSTREAM_PORT" RUST_LOG=off "$bench_bin" upstream >"$work/upstream.log" 2>&1 &
  upstream_pid=$!
  ACCESS_TOKEN_SECRET=$secret BENCH_UPSTREAM_PORT="$UPSTREAM_PORT" BENCH_BARE_PORT="$BARE_PORT" \
    RUST_LOG=off "$bench_bin" proxy >/dev/null 2>"$work/bare.log" &
  bare_pid=$!
  env -u REDIS_HOST -u DATABASE_URL "${redis[@]}" PORT="$GATEWAY_PORT" \
    TEMPLATE="http://127.0.0.1:$UPSTREAM_PORT" ACCESS_TOKEN_SECRET=$secret \
    RATE_LIMIT_MAX_REQUESTS=1000000000 ALLOWED_ORIGINS=http://localhost:5173 \
    RUST_LOG="$log_level" "$plangen_bin" gateway >"$gateway_out" 2>"$work/gateway.log" &
  gateway_pid=$!
  pids+=("$upstream_pid" "$bare_pid" "$gateway_pid")
  local _ ready=0
  for _ in $(seq 1 300); do
    ready=$( (grep -l '^ready' "$work/upstream.log" "$work/bare.log" 2>/dev/null || true) | wc -l)
    if [[ $ready == 2 ]] && curl -sf -o /dev/null "http://127.0.0.1:$GATEWAY_PORT/readyz"; then
      ready=3; break
    fi
    sleep 0.1
  done
  [[ $ready == 3 ]] || { cat "$work/upstream.log" "$work/bare.log" "$work/gateway.log" >&2; exit 1; }
  token=$(sed -n 's/^TOKEN=//p' "$work/bare.log")
}

# BENCH_ACCESS_LOG=1: the gateway writes its JSON access log (to /dev/null) and nginx its own.
if [[ ${BENCH_ACCESS_LOG:-0} == 1 ]]; then log_level=info; nginx_log=/dev/null; else log_level=off; nginx_log=off; fi
start_servers "$log_level" /dev/null

# nginx as the reference: `plain` proxies only; `edge` also does what it can of the
# gateway's edge policy (it cannot verify a JWT or send RateLimit headers without modules).
nginx_config() {
  local name=$1 port=$2 edge=$3
  cat <<EOF
worker_processes auto;
pid $work/nginx-$name.pid;
error_log $work/nginx-$name-error.log warn;
events { worker_connections 4096; }
http {
  access_log $nginx_log;
  server_tokens off;
  client_body_temp_path $work;
  proxy_temp_path $work;
  fastcgi_temp_path $work;
  uwsgi_temp_path $work;
  scgi_temp_path $work;
  limit_req_zone \$binary_remote_addr zone=per_client:10m rate=1000000r/s;
  upstream app { server 127.0.0.1:$UPSTREAM_PORT; keepalive 256; }
  server {
    listen 127.0.0.1:$port;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
EOF
  if [[ $edge == 1 ]]; then
    cat <<'EOF'
      limit_req zone=per_client burst=1000000 nodelay;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $host;
      proxy_set_header X-Request-Id $request_id;
      proxy_set_header X-Plangen-User-Id "";
      proxy_hide_header X-Powered-By;
      proxy_hide_header Access-Control-Allow-Origin;
      proxy_hide_header Access-Control-Allow-Credentials;
      add_header X-Request-Id $request_id always;
      add_header Content-Security-Policy "default-src 'self'; base-uri 'self'; font-src 'self' https: data:; form-action 'self'; frame-ancestors 'self'; img-src 'self' data:; object-src 'none'; script-src 'self'; script-src-attr 'none'; style-src 'self' https: 'unsafe-inline'" always;
      add_header Cross-Origin-Opener-Policy "same-origin" always;
      add_header Cross-Origin-Resource-Policy "same-origin" always;
      add_header Origin-Agent-Cluster "?1" always;
      add_header Referrer-Policy "no-referrer" always;
      add_header X-Content-Type-Options "nosniff" always;
      add_header X-DNS-Prefetch-Control "off" always;
      add_header X-Download-Options "noopen" always;
      add_header X-Frame-Options "SAMEORIGIN" always;
      add_header X-Permitted-Cross-Domain-Policies "none" always;
      add_header X-XSS-Protection "0" always;
      add_header Vary "Origin, Access-Control-Request-Method, Access-Control-Request-Headers" always;
      # nginx cannot count a shared budget per user; these fixed values make its answer as
      # long as the gateway's, so wrk reads the same bytes from both.
      add_header RateLimit-Policy "1000000000;w=60" always;
      add_header RateLimit "limit=1000000000, remaining=999999999, reset=60" always;
      add_header RateLimit-Limit "1000000000" always;
      add_header RateLimit-Remaining "999999999" always;
      add_header RateLimit-Reset "60" always;
EOF
  else
    echo '      proxy_set_header Host $host;'
  fi
  echo '    }'
  echo '  }'
  echo '}'
}

have_nginx=false
if command -v nginx >/dev/null; then
  have_nginx=true
  nginx_config plain "$NGINX_PORT" 0 >"$work/nginx-plain.conf"
  nginx_config edge "$NGINX_EDGE_PORT" 1 >"$work/nginx-edge.conf"
  nginx -c "$work/nginx-plain.conf" -p "$work" -g 'daemon on;'
  nginx -c "$work/nginx-edge.conf" -p "$work" -g 'daemon on;'
  sleep 0.5
fi

# CPU time (user, system; in clock ticks) of the given processes so far.
cpu_ticks() {
  local user=0 sys=0 pid
  for pid in "$@"; do
    read -r u s < <(awk '{print $14, $15}' "/proc/$pid/stat")
    user=$((user + u)); sys=$((sys + s))
  done
  echo "$user $sys"
}

# One wrk run of the same request (after a warm-up that fills the connection pools); prints
# `requests/s p50 p99 cpu-µs user-µs sys-µs upstream-µs` per request: the serving processes
# (the pids given) and the upstream.
measure() {
  local url=$1
  shift
  local proc_pids=("$@")
  local wrk_args=(-H "Authorization: Bearer $token")
  wrk -t"$THREADS" -c"$CONNECTIONS" -d3s "${wrk_args[@]}" "$url" >/dev/null
  local out before after up_before up_after
  before=$(cpu_ticks "${proc_pids[@]}")
  up_before=$(cpu_ticks "$upstream_pid")
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "${wrk_args[@]}" "$url")
  after=$(cpu_ticks "${proc_pids[@]}")
  up_after=$(cpu_ticks "$upstream_pid")
  if grep -q 'Non-2xx' <<<"$out"; then echo "non-2xx answers from $url!" >&2; echo "$out" >&2; fi
  awk -v b="$before" -v a="$after" -v ub="$up_before" -v ua="$up_after" -v hz="$(getconf CLK_TCK)" '
    /^Requests\/sec/ { rps = $2 }
    $1 == "50%" { p50 = $2 }
    $1 == "99%" { p99 = $2 }
    /requests in/ { n = $1 }
    END {
      split(b, x, " "); split(a, y, " "); split(ub, p, " "); split(ua, q, " ")
      u = (y[1] - x[1]) / hz * 1e6 / n; s = (y[2] - x[2]) / hz * 1e6 / n
      up = (q[1] + q[2] - p[1] - p[2]) / hz * 1e6 / n
      printf "%s %s %s %.1f %.1f %.1f %.1f\n", rps, p50, p99, u + s, u, s, up
    }' <<<"$out"
}

targets=("upstream (direct)" "plangen gateway" "gateway, proxy only")
$have_nginx && targets+=("nginx reverse proxy" "nginx + edge headers")

# Target `i` of `targets`, measured once.
measure_target() {
  case $1 in
    0) measure "http://127.0.0.1:$UPSTREAM_PORT$PATH_UNDER_TEST" "$upstream_pid" ;;
    1) measure "http://127.0.0.1:$GATEWAY_PORT/api/v1/templates/bench" "$gateway_pid" ;;
    2) measure "http://127.0.0.1:$BARE_PORT/api/v1/templates/bench" "$bare_pid" ;;
    3) measure "http://127.0.0.1:$NGINX_PORT$PATH_UNDER_TEST" \
         $(pgrep -P "$(cat "$work/nginx-plain.pid")") ;;
    4) measure "http://127.0.0.1:$NGINX_EDGE_PORT$PATH_UNDER_TEST" \
         $(pgrep -P "$(cat "$work/nginx-edge.pid")") ;;
  esac
}

# Every target once per round, in turn; the median round of each (by requests/s) is printed.
table() {
  local results="$work/results"
  : >"$results"
  for _ in $(seq 1 "$ROUNDS"); do
    for i in "${!targets[@]}"; do
      echo "$i $(measure_target "$i")" >>"$results"
    done
  done
  echo
  echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION, GET $PATH_UNDER_TEST, profile $PROFILE, $(nproc) cores," \
       "access log ${BENCH_ACCESS_LOG:-0}, redis ${BENCH_REDIS:-0}, median of $ROUNDS rounds"
  printf '| %-22s | %10s | %8s | %8s | %10s | %6s | %6s | %11s |\n' target 'requests/s' p50 p99 'CPU µs/req' user sys 'upstream µs'
  printf '|%s|%s|%s|%s|%s|%s|%s|%s|\n' ------------------------ ------------ ---------- ---------- ------------ -------- -------- -------------
  for i in "${!targets[@]}"; do
    awk -v i="$i" '$1 == i' "$results" | sort -k2 -n | awk -v r="$ROUNDS" 'NR == int((r + 1) / 2)' |
      { read -r _ rps p50 p99 cpu user sys up
        printf '| %-22s | %10s | %8s | %8s | %10s | %6s | %6s | %11s |\n' "${targets[$i]}" "$rps" "$p50" "$p99" "$cpu" "$user" "$sys" "$up"; }
  done
}

# Saturation: as many requests as the cores allow (throughput, and latency under overload).
table
# One request at a time (LIGHT_CONNECTIONS, default 1, one wrk thread): the latency a request
# gains from each hop when it never queues for a core.
CONNECTIONS=${LIGHT_CONNECTIONS:-1} THREADS=1 table
