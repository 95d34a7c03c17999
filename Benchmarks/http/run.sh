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
pin() { if [ -n "$1" ]; then echo "taskset -c $1"; fi; }

for tool in wrk nginx; do
  command -v "$tool" >/dev/null || { echo "$tool is required (apt-get install -y $tool)" >&2; exit 1; }
done

echo "== building the engine benchmark server (release)"
server_bin="$("$here/build-server.sh")"

# The same body for both servers: {"ok":true,"pad":"xxx…"} of BODY_SIZE bytes.
body="$(python3 -c "import sys; n=int(sys.argv[1]); f='{\"ok\":true,\"pad\":\"\"}'; print('{\"ok\":true,\"pad\":\"' + 'x'*max(0,n-len(f)) + '\"}', end='')" "$BODY_SIZE")"
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
    location / { default_type application/json; return 200 '$body'; }
  }
}
CONF

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

$(pin "$SERVER_CPUS") nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/logs/error.log" &
nginx_pid=$!
pids+=("$nginx_pid")
$(pin "$SERVER_CPUS") "$server_bin" --port "$ENGINE_PORT" --threads "$SERVER_THREADS" --body-size "$BODY_SIZE" > "$work/engine.log" 2>&1 &
engine_pid=$!
pids+=("$engine_pid")

for port in "$ENGINE_PORT" "$NGINX_PORT"; do
  for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
done
engine_len=$(curl -s "http://127.0.0.1:$ENGINE_PORT/" | wc -c)
nginx_len=$(curl -s "http://127.0.0.1:$NGINX_PORT/" | wc -c)
echo "== body bytes: engine $engine_len, nginx $nginx_len"
[ "$engine_len" = "$nginx_len" ] || { echo "bodies differ in size" >&2; exit 1; }

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
nginx_worker() { pgrep -P "$nginx_pid" | head -1; }

# Samples the resident memory of a process once a second into a file while wrk runs.
sample_rss() { local pid=$1 out=$2; while kill -0 "$pid" 2>/dev/null; do rss_kb "$pid" >> "$out"; sleep 1; done; }

# run NAME PORT CONNECTIONS [SCRIPT]: one wrk run; appends "name rps p50 p99" to results.
run_wrk() {
  local name=$1 port=$2 connections=$3 script=${4:-}
  local args=(-t1 -c"$connections" -d"${DURATION}s" --latency)
  [ -n "$script" ] && args+=(-s "$script")
  $(pin "$WRK_CPUS") wrk "${args[@]}" "http://127.0.0.1:$port/" > "$work/wrk.out"
  local rps p50 p99 errors
  rps=$(awk '/^Requests\/sec/ {print $2}' "$work/wrk.out")
  p50=$(awk '$1 == "50%" {print $2}' "$work/wrk.out")
  p99=$(awk '$1 == "99%" {print $2}' "$work/wrk.out")
  errors=$(awk '/Non-2xx|Socket errors/ {print}' "$work/wrk.out" | tr '\n' ' ')
  printf "   %-7s c=%-3s %10s req/s   p50 %-9s p99 %-9s %s\n" "$name" "$connections" "$rps" "$p50" "$p99" "$errors"
  echo "$name $rps $(to_ms "$p50") $(to_ms "$p99")" >> "$work/results.$5"
}
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'; }

median() { sort -n | awk '{a[NR]=$1} END { if (NR == 0) print 0; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }
summarize() {
  local file=$1 name=$2 column=$3
  awk -v n="$name" -v c="$column" '$1 == n {print $c}' "$file" | median
}

echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); servers on cpus '${SERVER_CPUS:-any}', wrk on '${WRK_CPUS:-any}'"
echo "== warm-up"
$(pin "$WRK_CPUS") wrk -t1 -c"$CONNECTIONS" -d2s "http://127.0.0.1:$ENGINE_PORT/" > /dev/null
$(pin "$WRK_CPUS") wrk -t1 -c"$CONNECTIONS" -d2s "http://127.0.0.1:$NGINX_PORT/" > /dev/null

: > "$work/rss.engine"; : > "$work/rss.nginx"
sample_rss "$engine_pid" "$work/rss.engine" & sampler1=$!
sample_rss "$(nginx_worker)" "$work/rss.nginx" & sampler2=$!

echo "== full load: wrk -t1 -c$CONNECTIONS -d${DURATION}s, $ROUNDS interleaved rounds"
: > "$work/results.full"
for round in $(seq "$ROUNDS"); do
  run_wrk nginx "$NGINX_PORT" "$CONNECTIONS" "" full
  run_wrk engine "$ENGINE_PORT" "$CONNECTIONS" "" full
done
nginx_rps=$(summarize "$work/results.full" nginx 2)
engine_rps=$(summarize "$work/results.full" engine 2)

# Half load: wrk has no rate control (wrk2 is not packaged), so each connection waits 1 ms
# between requests (a Lua `delay`) and the connection count sets the rate. A 3 s calibration
# against nginx measures one delayed connection's rate; the count aims at half of nginx's
# measured full-load throughput. The achieved rate is printed with the latencies.
cat > "$work/delay.lua" <<'LUA'
function delay() return 1 end
LUA
$(pin "$WRK_CPUS") wrk -t1 -c8 -d3s -s "$work/delay.lua" "http://127.0.0.1:$NGINX_PORT/" > "$work/calibrate.out"
per_connection=$(awk '/^Requests\/sec/ {print $2 / 8}' "$work/calibrate.out")
half_connections=$(awk -v r="$nginx_rps" -v p="$per_connection" 'BEGIN { c = int(r / 2 / p + 0.5); if (c < 1) c = 1; if (c > 512) c = 512; print c }')
echo "== half load: $half_connections connections at ~$(printf '%.0f' "$per_connection") req/s each (1 ms delay), target ~$(awk -v r="$nginx_rps" 'BEGIN{printf "%d", r/2}') req/s"
: > "$work/results.half"
for round in $(seq "$ROUNDS"); do
  run_wrk nginx "$NGINX_PORT" "$half_connections" "$work/delay.lua" half
  run_wrk engine "$ENGINE_PORT" "$half_connections" "$work/delay.lua" half
done

kill "$sampler1" "$sampler2" 2>/dev/null || true
wait "$sampler1" "$sampler2" 2>/dev/null || true

rss_summary() { sort -n "$1" | awk 'NR == 1 {min = $1} {max = $1; sum += $1} END { if (NR) printf "min %.1f MiB, max %.1f MiB over %d samples", min/1024, max/1024, NR }'; }

echo
echo "== summary (medians over $ROUNDS rounds)"
printf "   %-7s %12s %10s %10s   %12s %10s\n" "" "full req/s" "p50 ms" "p99 ms" "half req/s" "p99 ms"
for name in nginx engine; do
  printf "   %-7s %12s %10s %10s   %12s %10s\n" "$name" \
    "$(summarize "$work/results.full" $name 2)" "$(summarize "$work/results.full" $name 3)" "$(summarize "$work/results.full" $name 4)" \
    "$(summarize "$work/results.half" $name 2)" "$(summarize "$work/results.half" $name 4)"
done
echo "   ratio engine/nginx (full load req/s): $(awk -v a="$engine_rps" -v b="$nginx_rps" 'BEGIN { printf "%.2f", a / b }')"
echo "   resident memory, engine: $(rss_summary "$work/rss.engine")"
echo "   resident memory, nginx worker: $(rss_summary "$work/rss.nginx")"

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
