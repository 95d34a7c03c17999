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
pin() { if [ -n "$1" ]; then echo "taskset -c $1"; fi; }

for tool in wrk nginx curl python3; do
  command -v "$tool" >/dev/null || { echo "$tool is required (apt-get install -y $tool)" >&2; exit 1; }
done

if [ "$SKIP_BUILD" != 1 ]; then
  echo "== building allot (release)"
  (cd "$root" && swift build -c release --product allot 2>&1 | tail -1)
fi
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

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

$(pin "$SERVER_CPUS") "$allot" serve --store "$work/store" --trusted-key "$work/keys/signing.pub" --cache-dir "$work/cache" \
  --listen "127.0.0.1:$SERVE_PORT" --threads "$SERVER_THREADS" --poll-interval 1 --log-level warning > "$work/serve.log" 2>&1 &
serve_pid=$!
pids+=("$serve_pid")
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$SERVE_PORT/readyz" && break; sleep 0.1; done
answer="$(curl -sf "http://127.0.0.1:$SERVE_PORT$TARGET")"
case "$answer" in *"'"*) echo "the answer holds a quote; pick another TARGET" >&2; exit 1 ;; esac

mkdir -p "$work/nginx/logs"
cat > "$work/nginx/nginx.conf" <<CONF
worker_processes $SERVER_THREADS;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / { default_type application/json; return 200 '$answer'; }
  }
}
CONF
$(pin "$SERVER_CPUS") nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/logs/error.log" &
nginx_pid=$!
pids+=("$nginx_pid")
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$NGINX_PORT/" && break; sleep 0.1; done

serve_len=$(curl -s "http://127.0.0.1:$SERVE_PORT$TARGET" | wc -c)
nginx_len=$(curl -s "http://127.0.0.1:$NGINX_PORT$TARGET" | wc -c)
echo "== request: GET $TARGET"
echo "== body bytes: allot serve $serve_len, nginx $nginx_len"
[ "$serve_len" = "$nginx_len" ] || { echo "bodies differ in size" >&2; exit 1; }

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
nginx_worker() { pgrep -P "$nginx_pid" | head -1; }
sample_rss() { local pid=$1 out=$2; while kill -0 "$pid" 2>/dev/null; do rss_kb "$pid" >> "$out"; sleep 1; done; }
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'; }

# run_wrk NAME PORT CONNECTIONS SCRIPT RESULTS: one wrk run; appends "name rps p50 p99" to RESULTS.
run_wrk() {
  local name=$1 port=$2 connections=$3 script=$4 results=$5
  local args=(-t1 -c"$connections" -d"${DURATION}s" --latency)
  [ -n "$script" ] && args+=(-s "$script")
  $(pin "$WRK_CPUS") wrk "${args[@]}" "http://127.0.0.1:$port$TARGET" > "$work/wrk.out"
  local rps p50 p99 errors
  rps=$(awk '/^Requests\/sec/ {print $2}' "$work/wrk.out")
  p50=$(awk '$1 == "50%" {print $2}' "$work/wrk.out")
  p99=$(awk '$1 == "99%" {print $2}' "$work/wrk.out")
  errors=$(awk '/Non-2xx|Socket errors/ {print}' "$work/wrk.out" | tr '\n' ' ')
  printf "   %-6s c=%-3s %10s req/s   p50 %-9s p99 %-9s %s\n" "$name" "$connections" "$rps" "$p50" "$p99" "$errors"
  echo "$name $rps $(to_ms "$p50") $(to_ms "$p99")" >> "$results"
}
median() { sort -n | awk '{a[NR]=$1} END { if (NR == 0) print 0; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }
summarize() { awk -v n="$2" -v c="$3" '$1 == n {print $c}' "$1" | median; }

echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); servers on cpus '${SERVER_CPUS:-any}', wrk on '${WRK_CPUS:-any}', $SERVER_THREADS thread(s)/worker(s)"
echo "== warm-up"
$(pin "$WRK_CPUS") wrk -t1 -c"$CONNECTIONS" -d2s "http://127.0.0.1:$SERVE_PORT$TARGET" > /dev/null
$(pin "$WRK_CPUS") wrk -t1 -c"$CONNECTIONS" -d2s "http://127.0.0.1:$NGINX_PORT$TARGET" > /dev/null

: > "$work/rss.serve"; : > "$work/rss.nginx"
sample_rss "$serve_pid" "$work/rss.serve" & sampler1=$!
sample_rss "$(nginx_worker)" "$work/rss.nginx" & sampler2=$!

echo "== full load: wrk -t1 -c$CONNECTIONS -d${DURATION}s, $ROUNDS interleaved rounds"
: > "$work/results.full"
for round in $(seq "$ROUNDS"); do
  run_wrk nginx "$NGINX_PORT" "$CONNECTIONS" "" "$work/results.full"
  run_wrk serve "$SERVE_PORT" "$CONNECTIONS" "" "$work/results.full"
done
nginx_rps=$(summarize "$work/results.full" nginx 2)
serve_rps=$(summarize "$work/results.full" serve 2)

# Half load: wrk has no rate control (wrk2 is not packaged), so each connection waits 1 ms between
# requests (a Lua `delay`) and the connection count sets the rate, calibrated on nginx to aim at
# half of nginx's full-load throughput. The achieved rate is printed with the latencies.
cat > "$work/delay.lua" <<'LUA'
function delay() return 1 end
LUA
$(pin "$WRK_CPUS") wrk -t1 -c8 -d3s -s "$work/delay.lua" "http://127.0.0.1:$NGINX_PORT$TARGET" > "$work/calibrate.out"
per_connection=$(awk '/^Requests\/sec/ {print $2 / 8}' "$work/calibrate.out")
half_connections=$(awk -v r="$nginx_rps" -v p="$per_connection" 'BEGIN { c = int(r / 2 / p + 0.5); if (c < 1) c = 1; if (c > 512) c = 512; print c }')
echo "== half load: $half_connections connections at ~$(printf '%.0f' "$per_connection") req/s each (1 ms delay), target ~$(awk -v r="$nginx_rps" 'BEGIN{printf "%d", r/2}') req/s"
: > "$work/results.half"
for round in $(seq "$ROUNDS"); do
  run_wrk nginx "$NGINX_PORT" "$half_connections" "$work/delay.lua" "$work/results.half"
  run_wrk serve "$SERVE_PORT" "$half_connections" "$work/delay.lua" "$work/results.half"
done

kill "$sampler1" "$sampler2" 2>/dev/null || true
wait "$sampler1" "$sampler2" 2>/dev/null || true
rss_summary() { sort -n "$1" | awk 'NR == 1 {min = $1} {max = $1} END { if (NR) printf "min %.1f MiB, max %.1f MiB over %d samples", min/1024, max/1024, NR }'; }

echo
echo "== summary (medians over $ROUNDS rounds)"
printf "   %-6s %12s %10s %10s   %12s %10s\n" "" "full req/s" "p50 ms" "p99 ms" "half req/s" "p99 ms"
for name in nginx serve; do
  printf "   %-6s %12s %10s %10s   %12s %10s\n" "$name" \
    "$(summarize "$work/results.full" $name 2)" "$(summarize "$work/results.full" $name 3)" "$(summarize "$work/results.full" $name 4)" \
    "$(summarize "$work/results.half" $name 2)" "$(summarize "$work/results.half" $name 4)"
done
echo "   ratio allot serve / nginx (full load req/s): $(awk -v a="$serve_rps" -v b="$nginx_rps" 'BEGIN { printf "%.2f", a / b }')"
echo "   resident memory, allot serve: $(rss_summary "$work/rss.serve")"
echo "   resident memory, nginx worker: $(rss_summary "$work/rss.nginx")"

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
