#!/usr/bin/env bash
# The exposure log's cost and losses, measured (docs/performance.md, "Exposure log").
#
#  1. Throughput, log on vs off, same run: two `allot serve` on the same core(s), one writing the
#     exposure log (shipped to a folder store), one without; the 1,000-experiment / 50-layer
#     synthetic bundle (`allot-benchmarks write-project`), a random user per request (wrk Lua),
#     interleaved rounds. Prints both medians, the ratio and the events the log-on server dropped.
#  2. Half load (1 ms between requests per connection, calibrated to about half of "off"): the
#     same, where a server normally runs: the events dropped should be 0.
#  3. Graceful stop under load: wrk (counting the enrolled decisions in every answer it receives)
#     against the log-on server, SIGTERM while it runs; every promised event must be shipped or
#     counted as dropped.
#  4. kill -9 under load: the same with SIGKILL, then a restart on the same spool ships what the
#     killed process flushed: the difference is what a crash loses (bound: --exposure-flush-interval
#     worth of events, at most one buffer per worker).
#
# Environment (defaults in brackets):
#   DURATION [10] seconds per wrk run      ROUNDS [3]   interleaved rounds      CONNECTIONS [32]
#   SERVER_CPUS [0] cores of both servers  WRK_CPUS [1] cores of wrk            SERVER_THREADS [1]
#   STOP_CONNECTIONS [8] connections of the stop and kill runs   PORT_BASE [18680]   SKIP_BUILD [0]
#   WRITER_NICE [19]   --exposure-writer-nice of the log-on server
# Not a test: it prints numbers. Needs wrk, curl, python3 (zstandard), taskset.
set -euo pipefail

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-32}
SERVER_CPUS=${SERVER_CPUS-0}
WRK_CPUS=${WRK_CPUS-1}
SERVER_THREADS=${SERVER_THREADS:-1}
STOP_CONNECTIONS=${STOP_CONNECTIONS:-8}
WRITER_NICE=${WRITER_NICE:-19}
PORT_BASE=${PORT_BASE:-18680}
SKIP_BUILD=${SKIP_BUILD:-0}
OFF_PORT=$PORT_BASE
ON_PORT=$((PORT_BASE + 1))

root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d /tmp/allot-exposure-bench.XXXXXX)"
source "$root/Benchmarks/lib/compare-with-nginx.sh"
clean_up_on_exit KILL
require_tools wrk curl python3

build_release allot allot-benchmarks
allot="$root/.build/release/allot"
bench="$root/.build/release/allot-benchmarks"

publish_scale_bundle

serve() {  # serve PORT NAME [exposure flags...]: starts allot serve pinned to SERVER_CPUS; sets server_pid
  local port=$1 name=$2
  shift 2
  $(pin "$SERVER_CPUS") "$allot" serve --store "$work/store" --trusted-key "$work/keys/signing.pub" --cache-dir "$work/cache-$name" \
    --listen "127.0.0.1:$port" --threads "$SERVER_THREADS" --poll-interval 5 --log-level info "$@" >> "$work/serve-$name.log" 2>&1 &
  server_pid=$!
  pids+=("$server_pid")
  wait_for "http://127.0.0.1:$port/readyz"
}
exposure_flags=(--exposure-spool "$work/spool" --exposure-store "$work/exposures" --region bench --server-id bench-on
  --exposure-writer-nice "$WRITER_NICE")

metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v name="$2" '$1 == name {print $2}'; }
dropped() {
  local total=0
  for reason in buffer_full spool_full write_failed; do
    total=$(awk -v a="$total" -v b="$(metric "$1" "allot_exposure_events_dropped_total{reason=\"$reason\"}")" 'BEGIN {print a + b}')
  done
  echo "$total"
}
shipped_events() {  # shipped_events PREFIX: records in the exposure store whose unit starts with PREFIX
  python3 - "$work/exposures" "$1" <<'PY'
import glob, sys, zstandard
total = 0
needle = b'"unit":"' + sys.argv[2].encode()
for path in glob.glob(sys.argv[1] + "/exposures/*/*/*/*.ndjson.zst"):
    with open(path, "rb") as f:
        total += zstandard.ZstdDecompressor().decompressobj().decompress(f.read()).count(needle)
print(total)
PY
}

write_random_user_lua "$work/random.lua" 'country=US&app_version=5.3.0&platform=ios'
# The same, counting the enrolled decisions of every answer received (what the log must hold).
cat > "$work/counting.lua" <<'LUA'
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
  prefix = args[1] or "u"
  events = 0
  answers = 0
end
function request()
  return wrk.format("GET", "/v1/assign?user_id=" .. prefix .. math.random(1, 1000000000) .. "&country=US&app_version=5.3.0&platform=ios")
end
function response(status, headers, body)
  if status == 200 then
    answers = answers + 1
    local _, split = body:gsub('"reason":"split"', "")
    local _, override = body:gsub('"reason":"override"', "")
    events = events + split + override
  end
end
function done(summary, latency, requests)
  local events_total, answers_total = 0, 0
  for _, thread in ipairs(threads) do
    events_total = events_total + thread:get("events")
    answers_total = answers_total + thread:get("answers")
  end
  io.write(string.format("PROMISED %d %d\n", answers_total, events_total))
end
LUA

serve "$OFF_PORT" off
off_pid=$server_pid
serve "$ON_PORT" on "${exposure_flags[@]}"
on_pid=$server_pid
off_url="http://127.0.0.1:$OFF_PORT/"
on_url="http://127.0.0.1:$ON_PORT/"
echo "== answer bytes: $(curl -s "${off_url}v1/assign?user_id=u1&country=US&app_version=5.3.0&platform=ios" | wc -c)"
echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); servers on cpus '${SERVER_CPUS:-any}', wrk on '${WRK_CPUS:-any}', $SERVER_THREADS thread(s)"

echo "== warm-up"
$(pin "$WRK_CPUS") wrk -t1 -c"$CONNECTIONS" -d2s -s "$work/random.lua" "$off_url" > /dev/null
$(pin "$WRK_CPUS") wrk -t1 -c"$CONNECTIONS" -d2s -s "$work/random.lua" "$on_url" > /dev/null

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # user + system time of every thread, in 1/100 s
# measured NAME URL PID CONNECTIONS RESULTS: one wrk round, and the server's CPU time per request
# (all its threads, the exposure writer's included), appended to RESULTS.cpu as "NAME µs".
measured() {
  local name=$1 url=$2 pid=$3 connections=$4 results=$5 before after requests
  before=$(cpu_ticks "$pid")
  run_wrk "$name" "$url" "$connections" "$work/random.lua" "$results"
  after=$(cpu_ticks "$pid")
  requests=$(awk '/requests in/ {print $1}' "$work/wrk.out")
  awk -v n="$name" -v t=$((after - before)) -v r="$requests" 'BEGIN { if (r > 0) printf "%s %.1f\n", n, t * 10000 / r }' >> "$results.cpu"
}

# rounds RESULTS CONNECTIONS: interleaved wrk rounds, off then on; sets logged and lost (the
# log-on server's events written and dropped meanwhile).
rounds() {
  local results=$1 connections=$2 events_before dropped_before
  : > "$results"
  : > "$results.cpu"
  events_before=$(metric "$ON_PORT" allot_exposure_events_total)
  dropped_before=$(dropped "$ON_PORT")
  for _ in $(seq "$ROUNDS"); do
    measured off "$off_url" "$off_pid" "$connections" "$results"
    measured on "$on_url" "$on_pid" "$connections" "$results"
  done
  sleep 1
  logged=$(awk -v a="$(metric "$ON_PORT" allot_exposure_events_total)" -v b="$events_before" 'BEGIN {print a - b}')
  lost=$(awk -v a="$(dropped "$ON_PORT")" -v b="$dropped_before" 'BEGIN {print a - b}')
}

echo "== full load: wrk -t1 -c$CONNECTIONS -d${DURATION}s, random users, $ROUNDS interleaved rounds"
rounds "$work/results.full" "$CONNECTIONS"
full_events=$logged
full_dropped=$lost
off_rps=$(summarize "$work/results.full" off 2)
on_rps=$(summarize "$work/results.full" on 2)

echo "== half load: 1 ms between requests per connection"
echo 'function delay() return 1 end' >> "$work/random.lua"
$(pin "$WRK_CPUS") wrk -t1 -c8 -d3s -s "$work/random.lua" "$off_url" > "$work/calibrate.out"
per_connection=$(awk '/^Requests\/sec/ {print $2 / 8}' "$work/calibrate.out")
half_connections=$(awk -v r="$off_rps" -v p="$per_connection" 'BEGIN { c = int(r / 2 / p + 0.5); if (c < 1) c = 1; if (c > 512) c = 512; print c }')
rounds "$work/results.half" "$half_connections"
half_events=$logged
half_dropped=$lost

echo
echo "== summary (medians over $ROUNDS rounds)"
printf "   %-4s %12s %10s %10s   %12s %10s\n" "" "full req/s" "p50 ms" "p99 ms" "half req/s" "p99 ms"
for who in off on; do
  printf "   %-4s %12s %10s %10s   %12s %10s\n" "$who" \
    "$(summarize "$work/results.full" "$who" 2)" "$(summarize "$work/results.full" "$who" 3)" "$(summarize "$work/results.full" "$who" 4)" \
    "$(summarize "$work/results.half" "$who" 2)" "$(summarize "$work/results.half" "$who" 4)"
done
echo "   ratio on/off (full load req/s): $(awk -v a="$on_rps" -v b="$off_rps" 'BEGIN { printf "%.2f", a / b }')"
for load in full half; do
  off_cpu=$(summarize "$work/results.$load.cpu" off 2)
  on_cpu=$(summarize "$work/results.$load.cpu" on 2)
  echo "   $load load: CPU per request (µs, all threads): off $off_cpu, on $on_cpu; ratio off/on $(awk -v a="$off_cpu" -v b="$on_cpu" 'BEGIN { printf "%.2f", a / b }')"
done
echo "   full load: $full_events events logged, $full_dropped dropped ($(awk -v d="$full_dropped" -v e="$full_events" 'BEGIN { if (d + e > 0) printf "%.1f", 100 * d / (d + e); else print 0 }') %)"
echo "   half load: $half_events events logged, $half_dropped dropped"
kill "$off_pid" 2>/dev/null || true

stop_run() {  # stop_run SIGNAL LABEL: wrk with counting against the log-on server, SIGNAL after 3 s of 5
  local sig=$1 label=$2 prefix="phase-$1-"
  local promised_line answers promised last_dropped first_dropped final_dropped
  first_dropped=$(dropped "$ON_PORT")
  first_dropped=${first_dropped%.*}
  $(pin "$WRK_CPUS") wrk -t1 -c"$STOP_CONNECTIONS" -d5s -s "$work/counting.lua" "$on_url" -- "$prefix" > "$work/stop.out" 2>&1 &
  local wrk_pid=$!
  sleep 3
  last_dropped=$(dropped "$ON_PORT")
  last_dropped=${last_dropped%.*}
  local sent_at; sent_at=$(date +%s.%N)
  kill "-$sig" "$on_pid"
  wait "$on_pid" 2>/dev/null || true
  local exited_at; exited_at=$(date +%s.%N)
  wait "$wrk_pid" || true
  promised_line=$(awk '/^PROMISED/ {print $2, $3}' "$work/stop.out")
  answers=${promised_line% *}
  promised=${promised_line#* }
  if [ "$sig" = KILL ]; then
    serve "$ON_PORT" on "${exposure_flags[@]}"   # ships what the killed process left
    on_pid=$server_pid
    kill -TERM "$on_pid"; wait "$on_pid" 2>/dev/null || true
  fi
  local shipped; shipped=$(shipped_events "$prefix")
  if [ "$sig" = TERM ]; then
    # The writer's last log line has the process's final drop count.
    final_dropped=$(grep -o 'events_dropped=[0-9]*' "$work/serve-on.log" | tail -1 | cut -d= -f2)
    local phase_dropped=$((final_dropped - first_dropped))
    echo "   $label: $answers answers received with $promised events; $shipped shipped, $phase_dropped dropped (counted);" \
      "unaccounted $((promised - shipped - phase_dropped)); SIGTERM to exit $(awk -v a="$exited_at" -v b="$sent_at" 'BEGIN {printf "%.2f", a - b}') s"
  else
    local phase_dropped=$(awk -v a="$last_dropped" -v b="$first_dropped" 'BEGIN {print a - b}')
    echo "   $label: $answers answers received with $promised events; $shipped shipped after the restart;" \
      "$phase_dropped dropped (counted until the last scrape, 0.0-0.1 s before the kill); lost to the kill $((promised - shipped - phase_dropped))"
  fi
}

echo
echo "== graceful stop and kill -9 under load (wrk -c$STOP_CONNECTIONS, the signal 3 s into a 5 s run)"
stop_run TERM "SIGTERM"
serve "$ON_PORT" on "${exposure_flags[@]}"
on_pid=$server_pid
stop_run KILL "kill -9 "
echo "   (rate for the bound: $(awk -v e="$full_events" -v r="$ROUNDS" -v d="$DURATION" 'BEGIN {printf "%.0f", e / (r * d)}') events/s logged at full load;" \
  "the flush interval is 0.05 s)"
