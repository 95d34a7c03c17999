#!/usr/bin/env bash
# Allot HTTP engine vs nginx, same machine, same cores, same wrk settings, interleaved rounds.
#
# Environment (defaults in brackets):
#   DURATION [10]      seconds per wrk run          CONNECTIONS [32]   wrk connections
#   ROUNDS [2]         interleaved rounds           BODY_SIZE [200]    response body bytes
#   SERVER_CPUS [0]    cores for both servers       WRK_CPUS [1]       cores for wrk
#   SERVER_THREADS [1] engine threads (nginx gets as many workers)
#   SOAK [0]           if > 0, a final run of this many seconds against the engine alone,
#                      sampling its resident memory every 5 s
#   PORT_BASE [18480]  engine on PORT_BASE, nginx on PORT_BASE+1
# Set SERVER_CPUS= and WRK_CPUS= (empty) to run unpinned.
set -euo pipefail

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
ROUNDS=${ROUNDS:-2}
BODY_SIZE=${BODY_SIZE:-200}
SERVER_CPUS=${SERVER_CPUS-0}
WRK_CPUS=${WRK_CPUS-1}
SERVER_THREADS=${SERVER_THREADS:-1}
SOAK=${SOAK:-0}
PORT_BASE=${PORT_BASE:-18480}
ENGINE_PORT=$PORT_BASE
NGINX_PORT=$((PORT_BASE + 1))

here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d /tmp/allot-http-bench.XXXXXX)"
source "$here/../lib/compare-with-nginx.sh"
clean_up_on_exit
require_tools wrk nginx curl python3

echo "== building the engine benchmark server (release)"
server_bin="$("$here/build-server.sh")"

# The same body for both servers: {"ok":true,"pad":"xxx…"} of BODY_SIZE bytes.
body="$(python3 -c "import sys; n=int(sys.argv[1]); f='{\"ok\":true,\"pad\":\"\"}'; print('{\"ok\":true,\"pad\":\"' + 'x'*max(0,n-len(f)) + '\"}', end='')" "$BODY_SIZE")"
start_nginx "$NGINX_PORT" "$body"
$(pin "$SERVER_CPUS") "$server_bin" --port "$ENGINE_PORT" --threads "$SERVER_THREADS" --body-size "$BODY_SIZE" > "$work/engine.log" 2>&1 &
engine_pid=$!
pids+=("$engine_pid")
wait_for "http://127.0.0.1:$ENGINE_PORT/"

compare_with_nginx engine "http://127.0.0.1:$ENGINE_PORT/" "$engine_pid" "http://127.0.0.1:$NGINX_PORT/"

if [ "$SOAK" -gt 0 ]; then
  echo
  echo "== soak: engine alone, wrk -t1 -c$CONNECTIONS -d${SOAK}s, resident memory every 5 s (KiB)"
  $(pin "$WRK_CPUS") wrk -t1 -c"$CONNECTIONS" -d"${SOAK}s" --latency "http://127.0.0.1:$ENGINE_PORT/" > "$work/soak.out" &
  soak_pid=$!
  samples=()
  while kill -0 "$soak_pid" 2>/dev/null; do samples+=("$(rss_kb "$engine_pid")"); sleep 5; done
  wait "$soak_pid" || true
  echo "   rss: ${samples[*]}"
  awk '/^Requests\/sec/ {print "   " $0} $1 == "50%" || $1 == "99%" {print "   latency " $0}' "$work/soak.out"
fi
