# Shared by Benchmarks/http/run.sh and Benchmarks/serve/run.sh (sourced, not run): nginx with a
# fixed body as the baseline, wrk runs in interleaved rounds, full and half load, resident memory.
#
# The sourcing script sets: DURATION, CONNECTIONS, ROUNDS, SERVER_CPUS, WRK_CPUS, SERVER_THREADS,
# and `work` (a scratch folder `clean_up_on_exit` removes); `pids` collects processes to stop. Optional:
# WRK_SCRIPT, a wrk Lua script with a `request()` both servers get (nginx ignores the query).

pin() { if [ -n "$1" ]; then echo "taskset -c $1"; fi; }

# clean_up_on_exit [SIGNAL]: when the script exits, however it exits, every process in `pids` gets
# SIGNAL (TERM by default) and is waited for, and `work` is removed.
pids=()
clean_up_on_exit() {
  cleanup_signal=${1:-TERM}
  trap stop_everything EXIT
}
stop_everything() {
  for pid in "${pids[@]}"; do kill -"$cleanup_signal" "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}

# build_release PRODUCT…: `swift build -c release` of each product in `root`, unless SKIP_BUILD=1.
build_release() {
  [ "${SKIP_BUILD:-0}" = 1 ] && return 0
  echo "== building $* (release)"
  (cd "$root" && for product in "$@"; do swift build -c release --product "$product" 2>&1 | tail -1; done)
}

# start_serve PORT POLL_SECONDS: `allot serve` on SERVER_CPUS with SERVER_THREADS threads, on the
# bundle published to `work/store` (signed by `work/keys`); waits until ready; sets serve_pid.
start_serve() {
  $(pin "$SERVER_CPUS") "$allot" serve --store "$work/store" --trusted-key "$work/keys/signing.pub" --cache-dir "$work/cache" \
    --listen "127.0.0.1:$1" --threads "$SERVER_THREADS" --poll-interval "$2" --log-level warning > "$work/serve.log" 2>&1 &
  serve_pid=$!
  pids+=("$serve_pid")
  wait_for "http://127.0.0.1:$1/readyz"
}

require_tools() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "$tool is required (apt-get install -y $tool)" >&2; exit 1; }
  done
}

# wait_for URL: until it answers 2xx (up to 10 s).
wait_for() { for _ in $(seq 100); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done; return 1; }

# start_nginx PORT BODY: nginx with SERVER_THREADS workers on SERVER_CPUS, answering every path
# with BODY as application/json; sets nginx_pid.
start_nginx() {
  local port=$1 body=$2
  case "$body" in *"'"*) echo "the body holds a quote, which nginx's return cannot carry" >&2; exit 1 ;; esac
  local root="$work/nginx/html"
  mkdir -p "$work/nginx/logs" "$work/nginx/html"
  # nginx's `return` takes at most about 4 KB: longer bodies are served from a file (open_file_cache
  # keeps it open, so both are a copy from memory).
  local location="location / { default_type application/json; return 200 '$body'; }"
  if [ "${#body}" -gt 3500 ]; then
    printf '%s' "$body" > "$work/nginx/html/answer.json"
    # Run as root, nginx's workers are `nobody`: they must reach the file through the scratch folder.
    chmod a+x "$work" "$work/nginx" && chmod a+rx "$work/nginx/html" && chmod a+r "$work/nginx/html/answer.json"
    location="location / { default_type application/json; open_file_cache max=10; try_files /answer.json =404; }"
  fi
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
    listen 127.0.0.1:$port;
    root $root;
    $location
  }
}
CONF
  $(pin "$SERVER_CPUS") nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/logs/error.log" &
  nginx_pid=$!
  pids+=("$nginx_pid")
  wait_for "http://127.0.0.1:$port/" || { echo "nginx did not start:" >&2; cat "$work/nginx/logs/error.log" >&2; return 1; }
}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# sample_rss PID FILE: the process's resident memory (KiB) once a second while it lives.
sample_rss() { local pid=$1 out=$2; while kill -0 "$pid" 2>/dev/null; do rss_kb "$pid" >> "$out"; sleep 1; done; }
rss_summary() { sort -n "$1" | awk 'NR == 1 {min = $1} {max = $1} END { if (NR) printf "min %.1f MiB, max %.1f MiB over %d samples", min/1024, max/1024, NR }'; }
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'; }
median() { sort -n | awk '{a[NR]=$1} END { if (NR == 0) print 0; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }
summarize() { awk -v n="$2" -v c="$3" '$1 == n {print $c}' "$1" | median; }

# cpu_ticks PID…: user + system CPU of the processes so far, in clock ticks (all their threads).
cpu_ticks() {
  local total=0 pid fields
  for pid in "$@"; do
    # The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    fields=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
    total=$((total + $(echo "$fields" | awk '{print $12 + $13}')))
  done
  echo "$total"
}

# run_wrk NAME URL CONNECTIONS SCRIPT RESULTS [PID…]: one wrk run; prints it and appends
# "name rps p50_ms p99_ms cpu_us" to RESULTS, cpu_us being the CPU the server processes PID…
# used per request during the run (user + system, from /proc; 0 without PIDs). CPU per request
# moves less with the host's state than throughput does: wrk shares the machine. On loopback a
# process's system time includes some of its peer's receive work (softirq in the sender's
# context), the same for both servers under the same wrk load and bytes.
run_wrk() {
  local name=$1 url=$2 connections=$3 script=$4 results=$5
  shift 5
  local args=(-t1 -c"$connections" -d"${DURATION}s" --latency)
  [ -n "$script" ] && args+=(-s "$script")
  local before=0 after=0
  [ $# -gt 0 ] && before=$(cpu_ticks "$@")
  $(pin "$WRK_CPUS") wrk "${args[@]}" "$url" > "$work/wrk.out"
  [ $# -gt 0 ] && after=$(cpu_ticks "$@")
  local rps p50 p99 errors requests cpu
  rps=$(awk '/^Requests\/sec/ {print $2}' "$work/wrk.out")
  p50=$(awk '$1 == "50%" {print $2}' "$work/wrk.out")
  p99=$(awk '$1 == "99%" {print $2}' "$work/wrk.out")
  errors=$(awk '/Non-2xx|Socket errors/ {print}' "$work/wrk.out" | tr '\n' ' ')
  requests=$(awk '/requests in/ {print $1}' "$work/wrk.out")
  cpu=$(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="${requests:-0}" 'BEGIN { printf "%.2f", (n > 0 ? t * 1e6 / hz / n : 0) }')
  local cpu_text=""
  [ $# -gt 0 ] && cpu_text="cpu $cpu µs/req "
  printf "   %-7s c=%-3s %10s req/s   p50 %-9s p99 %-9s %s%s\n" "$name" "$connections" "$rps" "$p50" "$p99" "$cpu_text" "$errors"
  echo "$name $rps $(to_ms "$p50") $(to_ms "$p99") $cpu" >> "$results"
}

# compare_with_nginx NAME URL PID NGINX_URL: checks both bodies have the same size, then warm-up,
# full load and half load in interleaved rounds, resident memory of both sampled throughout, and
# a summary of medians with the throughput ratio.
compare_with_nginx() {
  local name=$1 url=$2 pid=$3 nginx_url=$4
  local own_len nginx_len
  own_len=$(curl -s "$url" | wc -c)
  nginx_len=$(curl -s "$nginx_url" | wc -c)
  echo "== body bytes: $name $own_len, nginx $nginx_len"
  [ "$own_len" = "$nginx_len" ] || { echo "bodies differ in size" >&2; exit 1; }

  echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); servers on cpus '${SERVER_CPUS:-any}', wrk on '${WRK_CPUS:-any}', $SERVER_THREADS thread(s)/worker(s)"
  echo "== warm-up"
  $(pin "$WRK_CPUS") wrk -t1 -c"$CONNECTIONS" -d2s "$url" > /dev/null
  $(pin "$WRK_CPUS") wrk -t1 -c"$CONNECTIONS" -d2s "$nginx_url" > /dev/null

  : > "$work/rss.own"; : > "$work/rss.nginx"
  sample_rss "$pid" "$work/rss.own" & local sampler1=$!
  sample_rss "$(pgrep -P "$nginx_pid" | head -1)" "$work/rss.nginx" & local sampler2=$!

  echo "== full load: wrk -t1 -c$CONNECTIONS -d${DURATION}s, $ROUNDS interleaved rounds"
  : > "$work/results.full"
  local script=${WRK_SCRIPT:-}
  local nginx_workers
  nginx_workers=$(pgrep -P "$nginx_pid" | tr '\n' ' ')
  for _ in $(seq "$ROUNDS"); do
    # nginx_workers unquoted: one argument per worker process
    run_wrk nginx "$nginx_url" "$CONNECTIONS" "$script" "$work/results.full" $nginx_workers
    run_wrk "$name" "$url" "$CONNECTIONS" "$script" "$work/results.full" "$pid"
  done
  local nginx_rps own_rps
  nginx_rps=$(summarize "$work/results.full" nginx 2)
  own_rps=$(summarize "$work/results.full" "$name" 2)

  # Half load: wrk has no rate control (wrk2 is not packaged), so each connection waits 1 ms
  # between requests (a Lua `delay`) and the connection count sets the rate. A 3 s calibration
  # against nginx measures one delayed connection's rate; the count aims at half of nginx's
  # measured full-load throughput. The achieved rate is printed with the latencies.
  { [ -n "$script" ] && cat "$script"; echo 'function delay() return 1 end'; } > "$work/delay.lua"
  $(pin "$WRK_CPUS") wrk -t1 -c8 -d3s -s "$work/delay.lua" "$nginx_url" > "$work/calibrate.out"
  local per_connection half_connections
  per_connection=$(awk '/^Requests\/sec/ {print $2 / 8}' "$work/calibrate.out")
  half_connections=$(awk -v r="$nginx_rps" -v p="$per_connection" 'BEGIN { c = int(r / 2 / p + 0.5); if (c < 1) c = 1; if (c > 512) c = 512; print c }')
  echo "== half load: $half_connections connections at ~$(printf '%.0f' "$per_connection") req/s each (1 ms delay), target ~$(awk -v r="$nginx_rps" 'BEGIN{printf "%d", r/2}') req/s"
  : > "$work/results.half"
  for _ in $(seq "$ROUNDS"); do
    run_wrk nginx "$nginx_url" "$half_connections" "$work/delay.lua" "$work/results.half"
    run_wrk "$name" "$url" "$half_connections" "$work/delay.lua" "$work/results.half"
  done

  kill "$sampler1" "$sampler2" 2>/dev/null || true
  wait "$sampler1" "$sampler2" 2>/dev/null || true

  echo
  echo "== summary (medians over $ROUNDS rounds)"
  printf "   %-7s %12s %10s %10s %12s   %12s %10s\n" "" "full req/s" "p50 ms" "p99 ms" "CPU µs/req" "half req/s" "p99 ms"
  for who in nginx "$name"; do
    printf "   %-7s %12s %10s %10s %12s   %12s %10s\n" "$who" \
      "$(summarize "$work/results.full" "$who" 2)" "$(summarize "$work/results.full" "$who" 3)" "$(summarize "$work/results.full" "$who" 4)" \
      "$(summarize "$work/results.full" "$who" 5)" "$(summarize "$work/results.half" "$who" 2)" "$(summarize "$work/results.half" "$who" 4)"
  done
  echo "   ratio $name/nginx (full load req/s): $(awk -v a="$own_rps" -v b="$nginx_rps" 'BEGIN { printf "%.2f", a / b }')"
  echo "   ratio nginx/$name (CPU per request at full load, medians): $(awk -v a="$(summarize "$work/results.full" nginx 5)" \
    -v b="$(summarize "$work/results.full" "$name" 5)" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')"
  echo "   resident memory, $name: $(rss_summary "$work/rss.own")"
  echo "   resident memory, nginx worker: $(rss_summary "$work/rss.nginx")"
}

# publish_scale_bundle: the 1,000-experiment / 50-layer synthetic project (`allot-benchmarks
# write-project`) compiled as version 1 and published to the folder store "$work/store"; keys in
# "$work/keys", the bundle at "$work/bundle". Needs `allot` and `bench` (the two binaries).
publish_scale_bundle() {
  echo "== the 1,000-experiment / 50-layer bundle"
  "$bench" write-project "$work/experiments"
  "$allot" keygen --out "$work/keys" > /dev/null
  "$allot" compile --experiments "$work/experiments" --signing-key "$work/keys/signing.key" --version 1 --created-at 1764374400 \
    --output "$work/bundle" > /dev/null
  mkdir -p "$work/store"
  "$allot" publish "$work/bundle" --store "$work/store" --signing-key "$work/keys/signing.key" > /dev/null
  ls -l "$work/bundle" | awk '{print "   bundle: " $5 " bytes"}'
}

# write_random_user_lua FILE QUERY: a wrk script asking /v1/assign for a random user per request
# (`user_id=u<random>&QUERY`): every cache of a real fleet is cold for most users, and a fixed
# unit keeps them all warm.
write_random_user_lua() {
  cat > "$1" <<LUA
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
function request()
  return wrk.format("GET", "/v1/assign?user_id=u" .. math.random(1, 1000000000) .. "&$2")
end
LUA
}
