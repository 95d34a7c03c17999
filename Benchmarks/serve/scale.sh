#!/usr/bin/env bash
# `allot serve` vs nginx at production scale (issue 19): the 1,000-experiment / 50-layer synthetic
# bundle (`allot-benchmarks write-project`: 20 experiments per layer, a third targeted, 2-3
# variants, string/number/json parameters per layer), a random user per request (wrk Lua
# `request()`; a fixed unit keeps every cache warm and flatters the result), nginx returning one
# such answer as a fixed body (same size, checked). Same cores, same wrk, interleaved rounds.
#
# Environment: as Benchmarks/serve/run.sh (DURATION [10], CONNECTIONS [32], ROUNDS [3],
# SERVER_CPUS [0], WRK_CPUS [1], SERVER_THREADS [1], PORT_BASE [18590], SKIP_BUILD [0]); ALLOT
# [.build/release/allot]: another build, e.g. the deployed static one (.build/static/release/allot,
# built by ops/deploy/build.sh); ALLOT_BENCH_TARGETING=distinct: every targeted experiment with its
# own targeting program (the shared-program memo's worst case; by default they share one).
# Not a test: it prints numbers (docs/performance.md).
set -euo pipefail

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
ROUNDS=${ROUNDS:-3}
SERVER_CPUS=${SERVER_CPUS-0}
WRK_CPUS=${WRK_CPUS-1}
SERVER_THREADS=${SERVER_THREADS:-1}
PORT_BASE=${PORT_BASE:-18590}
SKIP_BUILD=${SKIP_BUILD:-0}
SERVE_PORT=$PORT_BASE
NGINX_PORT=$((PORT_BASE + 1))
QUERY='country=US&app_version=5.3.0&platform=ios'

root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d /tmp/allot-scale-bench.XXXXXX)"
source "$root/Benchmarks/lib/compare-with-nginx.sh"
clean_up_on_exit
require_tools wrk nginx curl python3

build_release allot allot-benchmarks
allot="${ALLOT:-$root/.build/release/allot}"
bench="$root/.build/release/allot-benchmarks"

publish_scale_bundle

start_serve "$SERVE_PORT" 5

write_random_user_lua "$work/random.lua" "$QUERY"
# Answers for random users vary a little in size; nginx gets the median-sized one of 200.
answer=$(for i in $(seq 200); do curl -sf "http://127.0.0.1:$SERVE_PORT/v1/assign?user_id=probe$i&$QUERY"; echo; done \
  | awk '{print length($0) " " $0}' | sort -n | awk 'NR == 100 {sub(/^[0-9]+ /, ""); print}')
probe=$(for i in $(seq 200); do echo "$(curl -sf "http://127.0.0.1:$SERVE_PORT/v1/assign?user_id=probe$i&$QUERY" | wc -c) probe$i"; done \
  | sort -n | awk 'NR == 100 {print $2}')
echo "   answers for random users: $(for i in $(seq 50); do curl -sf "http://127.0.0.1:$SERVE_PORT/v1/assign?user_id=size$i&$QUERY" | wc -c; done | sort -n | awk 'NR == 1 {min = $1} {max = $1} END {print min "-" max " bytes"}')"
start_nginx "$NGINX_PORT" "$answer"

echo "== request: GET /v1/assign?user_id=<random>&$QUERY"
WRK_SCRIPT="$work/random.lua" compare_with_nginx serve "http://127.0.0.1:$SERVE_PORT/v1/assign?user_id=$probe&$QUERY" "$serve_pid" \
  "http://127.0.0.1:$NGINX_PORT/v1/assign?user_id=$probe&$QUERY"
