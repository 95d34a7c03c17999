#!/usr/bin/env bash
# `allot serve` vs nginx on the same machine, same cores, same wrk settings, interleaved rounds.
# allot serve answers GET /v1/assign for a compiled sample bundle (experiments/); nginx returns
# that very answer as a fixed body, so both send the same bytes and the difference is the work
# of evaluating, not of transferring.
#
# Environment (defaults in brackets):
#   DURATION [10]      seconds per wrk run          CONNECTIONS [32]   wrk connections
#   ROUNDS [3]         interleaved rounds           SOAK [60]          seconds of the RSS soak (0: none)
#   SERVER_CPUS [0]    cores for both servers       WRK_CPUS [1]       cores for wrk
#   SERVER_THREADS [1] allot serve threads (nginx gets as many workers)
#   SWAP_EVERY [5]     during the soak, publish a new bundle version every N seconds (0: never)
#   TARGET             the request path [/v1/assign?user_id=alice&device_id=device-alice&country=US&app_version=5.3.0&platform=ios]
#   PORT_BASE [18580]  allot serve on PORT_BASE, nginx on PORT_BASE+1
#   SKIP_BUILD [0]     1: use the existing .build/release/allot
# Benchmarks/serve/scale.sh is the same comparison on the 1,000-experiment bundle with random users.
# Set SERVER_CPUS= and WRK_CPUS= (empty) to run unpinned. Not a test: it prints numbers.
set -euo pipefail

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
ROUNDS=${ROUNDS:-3}
SOAK=${SOAK:-60}
SERVER_CPUS=${SERVER_CPUS-0}
WRK_CPUS=${WRK_CPUS-1}
SERVER_THREADS=${SERVER_THREADS:-1}
SWAP_EVERY=${SWAP_EVERY:-5}
TARGET=${TARGET:-/v1/assign?user_id=alice&device_id=device-alice&country=US&app_version=5.3.0&platform=ios}
PORT_BASE=${PORT_BASE:-18580}
SKIP_BUILD=${SKIP_BUILD:-0}
SERVE_PORT=$PORT_BASE
NGINX_PORT=$((PORT_BASE + 1))

root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d /tmp/allot-serve-bench.XXXXXX)"
source "$root/Benchmarks/lib/compare-with-nginx.sh"
clean_up_on_exit
require_tools wrk nginx curl python3

build_release allot
allot="$root/.build/release/allot"

echo "== compiling experiments/ and publishing to a local store"
cp -r "$root/experiments" "$work/experiments"
"$allot" keygen --out "$work/keys" > /dev/null
compile() { "$allot" compile --experiments "$work/experiments" --signing-key "$work/keys/signing.key" --version "$1" \
  --created-at 1764374400 --output "$work/bundles/$1.bundle" > /dev/null; }
publish() { "$allot" publish "$work/bundles/$1.bundle" --store "$work/store" --signing-key "$work/keys/signing.key" > /dev/null; }
mkdir -p "$work/store" "$work/bundles"
compile 1
publish 1
ls -l "$work/bundles/1.bundle" | awk '{print "   bundle: " $5 " bytes"}'

start_serve "$SERVE_PORT" 1
answer="$(curl -sf "http://127.0.0.1:$SERVE_PORT$TARGET")"
start_nginx "$NGINX_PORT" "$answer"

echo "== request: GET $TARGET"
compare_with_nginx serve "http://127.0.0.1:$SERVE_PORT$TARGET" "$serve_pid" "http://127.0.0.1:$NGINX_PORT$TARGET"

if [ "$SOAK" -gt 0 ]; then
  echo
  swaps="no swaps"
  [ "$SWAP_EVERY" -gt 0 ] && swaps="a new bundle version published every ${SWAP_EVERY} s"
  echo "== soak: allot serve alone, wrk -t1 -c$CONNECTIONS -d${SOAK}s, $swaps; resident memory every 5 s (KiB)"
  # Precompile the versions the soak publishes, so the compiler does not compete for the cores.
  versions=0
  if [ "$SWAP_EVERY" -gt 0 ]; then
    versions=$((SOAK / SWAP_EVERY))
    for v in $(seq 2 $((versions + 1))); do compile "$v"; done
  fi
  $(pin "$WRK_CPUS") wrk -t1 -c"$CONNECTIONS" -d"${SOAK}s" --latency "http://127.0.0.1:$SERVE_PORT$TARGET" > "$work/soak.out" &
  soak_pid=$!
  samples=()
  next_version=2
  elapsed=0
  while kill -0 "$soak_pid" 2>/dev/null; do
    if [ $((elapsed % 5)) -eq 0 ]; then samples+=("$(rss_kb "$serve_pid")"); fi
    if [ "$SWAP_EVERY" -gt 0 ] && [ "$elapsed" -gt 0 ] && [ $((elapsed % SWAP_EVERY)) -eq 0 ] && [ "$next_version" -le $((versions + 1)) ]; then
      publish "$next_version"
      next_version=$((next_version + 1))
    fi
    sleep 1
    elapsed=$((elapsed + 1))
  done
  wait "$soak_pid" || true
  echo "   rss: ${samples[*]}"
  awk '/^Requests\/sec/ {print "   " $0} $1 == "50%" || $1 == "99%" {print "   latency " $0} /Non-2xx|Socket errors/ {print "   " $0}' "$work/soak.out"
  served=$(curl -s "http://127.0.0.1:$SERVE_PORT/v1/bundle" | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
  swaps_total=$(curl -s "http://127.0.0.1:$SERVE_PORT/metrics" | awk '/^allot_bundle_swaps_total/ {print $2}')
  echo "   serving version $served after $swaps_total swaps; cache files: $(ls "$work/cache" | tr '\n' ' ')"
fi
