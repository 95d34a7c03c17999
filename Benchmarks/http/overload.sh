#!/usr/bin/env bash
# The engine offered more than it can take: wrk ramps connections past the server's connection cap
# (closed loop: each connection sends its next request when the last is answered, so offered load
# grows with connections). Per step: goodput (200s per second), p50/p99 latency over all answers,
# how the excess was refused (503 with Retry-After; socket errors), the server's resident memory
# and open descriptors at the end of the step, and its CPU share (of one core) during the step.
#   Benchmarks/http/overload.sh
#   STEPS="32 512 5120" MAX_CONNECTIONS=512 DURATION=8 SERVER_THREADS=2 Benchmarks/http/overload.sh
#   REFUSAL_RATE=0 Benchmarks/http/overload.sh   refuse every connection over the cap at once (the old behaviour)
#   BENCH_BINARY=path ...   another build of the benchmark server
set -euo pipefail
cd "$(dirname "$0")/../.."
STEPS=${STEPS:-"32 128 512 1024 5120"}
MAX_CONNECTIONS=${MAX_CONNECTIONS:-512}
DURATION=${DURATION:-8}
SERVER_THREADS=${SERVER_THREADS:-2}
REFUSAL_RATE=${REFUSAL_RATE:-1000}
command -v wrk >/dev/null || { echo "wrk is required (apt-get install -y wrk)" >&2; exit 1; }
binary="${BENCH_BINARY:-}"
if [ -z "$binary" ]; then binary="$(Benchmarks/http/build-server.sh)"; fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$binary" --port "$port" --threads "$SERVER_THREADS" --max-connections "$MAX_CONNECTIONS" --connection-refusal-rate "$REFUSAL_RATE" > "$work/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
# Counts answers by status and whether 503s carried Retry-After.
cat > "$work/count.lua" <<'LUA'
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) ok = 0; refused = 0; refused_retry = 0; other = 0 end
function response(status, headers, body)
  if status == 200 then ok = ok + 1
  elseif status == 503 then
    refused = refused + 1
    if headers["Retry-After"] then refused_retry = refused_retry + 1 end
  else other = other + 1 end
end
function done(summary, latency, requests)
  local t = {ok = 0, refused = 0, refused_retry = 0, other = 0}
  for _, thread in ipairs(threads) do
    for key, _ in pairs(t) do t[key] = t[key] + thread:get(key) end
  end
  local seconds = summary.duration / 1e6
  io.write(string.format("RESULT %.0f %.3f %.3f %d %d %d %d %d\n", t.ok / seconds,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, t.refused, t.refused_retry, t.other,
    summary.errors.connect + summary.errors.read + summary.errors.write, summary.errors.timeout))
end
LUA
echo "engine: $SERVER_THREADS threads, --max-connections $MAX_CONNECTIONS, --connection-refusal-rate $REFUSAL_RATE; wrk -t2, ${DURATION} s per step; load average $(cut -d' ' -f1-3 /proc/loadavg)"
cpu() { awk '{print $14 + $15}' "/proc/$server/stat"; }
ticks=$(getconf CLK_TCK)
printf "%-12s %12s %9s %9s %12s %14s %8s %10s %9s %6s %10s\n" connections "goodput/s" "p50 ms" "p99 ms" "503s" "with Retry" other "sock.err" "RSS MiB" fds "server CPU"
for connections in $STEPS; do
  before=$(cpu)
  line=$(wrk -t2 -c"$connections" -d"${DURATION}s" --timeout 10s -s "$work/count.lua" "http://127.0.0.1:$port/" 2>&1 | grep '^RESULT' || true)
  rss=$(awk '/^VmRSS/ {printf "%.1f", $2/1024}' "/proc/$server/status")
  fds=$(ls "/proc/$server/fd" | wc -l)
  # The server's share of the 2 cores during the step (wrk has the rest).
  share=$(awk -v a="$before" -v b="$(cpu)" -v t="$ticks" -v d="$DURATION" 'BEGIN {printf "%.0f%%", (b - a) / t / d * 100}')
  read -r _ goodput p50 p99 refused retry other errors timeouts <<<"$line"
  printf "%-12s %12s %9s %9s %12s %14s %8s %10s %9s %6s %10s\n" "$connections" "$goodput" "$p50" "$p99" "$refused" "$retry" "$other" "$errors" "$rss" "$fds" "$share"
  sleep 1
done
grep -c "warning" "$work/server.log" | xargs -I{} echo "server warnings logged: {}"
