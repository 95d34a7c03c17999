#!/usr/bin/env bash
# Where a request's time goes, `allot serve` against nginx, at production scale (issue 19's set-up,
# as Benchmarks/serve/scale.sh: the 1,000-experiment / 50-layer bundle, a random user per request,
# nginx returning a median-sized answer from a file). Each server runs alone on core 0 under wrk
# (core 1) while `perf record -e cpu-clock` samples it (a software clock: this VM has no hardware
# counters); the samples are split into the kernel (sockets, epoll, copies to and from user space),
# evaluation, answer writing, libc, and the rest of user space, and turned into microseconds of
# CPU per request with wrk's request count. Prints one table per server and the difference.
#
# Environment: DURATION [10], CONNECTIONS [32], SERVER_CPUS [0], WRK_CPUS [1], FREQUENCY [4999],
# PORT_BASE [18690], SKIP_BUILD [0], TOP [12] (the hottest symbols listed per server). Needs perf (linux-perf), wrk, nginx. Not a test.
set -euo pipefail

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
SERVER_CPUS=${SERVER_CPUS-0}
WRK_CPUS=${WRK_CPUS-1}
SERVER_THREADS=1
FREQUENCY=${FREQUENCY:-4999}
PORT_BASE=${PORT_BASE:-18690}
SKIP_BUILD=${SKIP_BUILD:-0}
TOP=${TOP:-12}
SERVE_PORT=$PORT_BASE
NGINX_PORT=$((PORT_BASE + 1))
QUERY='country=US&app_version=5.3.0&platform=ios'

root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d /tmp/allot-profile.XXXXXX)"
source "$root/Benchmarks/lib/compare-with-nginx.sh"
clean_up_on_exit
require_tools wrk nginx curl python3 perf

build_release allot allot-benchmarks
allot="$root/.build/release/allot"
bench="$root/.build/release/allot-benchmarks"

publish_scale_bundle
start_serve "$SERVE_PORT" 5
answer=$(for i in $(seq 100); do curl -sf "http://127.0.0.1:$SERVE_PORT/v1/assign?user_id=probe$i&$QUERY"; echo; done \
  | awk '{print length($0) " " $0}' | sort -n | awk 'NR == 50 {sub(/^[0-9]+ /, ""); print}')
start_nginx "$NGINX_PORT" "$answer"
nginx_worker=$(pgrep -P "$(cat "$work/nginx/nginx.pid")" | head -1)

write_random_user_lua "$work/random.lua" "$QUERY"

# profile NAME PID URL: warm up, then wrk for DURATION seconds with perf sampling PID.
profile() {
  local name=$1 pid=$2 url=$3
  $(pin "$WRK_CPUS") wrk -t1 -c"$CONNECTIONS" -d2s -s "$work/random.lua" "$url" > /dev/null
  perf record -q -e cpu-clock -F "$FREQUENCY" -p "$pid" -o "$work/$name.perf" -- sleep $((DURATION + 1)) 2> /dev/null &
  local perf_pid=$!
  sleep 0.5
  $(pin "$WRK_CPUS") wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" -s "$work/random.lua" "$url" > "$work/$name.wrk"
  wait "$perf_pid"
  perf report -q -i "$work/$name.perf" --stdio --no-children --sort dso,sym --percent-limit 0 > "$work/$name.report" 2> /dev/null
  perf script -i "$work/$name.perf" 2> /dev/null | wc -l > "$work/$name.samples"
}

echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); server on cpu $SERVER_CPUS, wrk on cpu $WRK_CPUS, $CONNECTIONS connections, ${DURATION}s each, perf at ${FREQUENCY} Hz"
profile nginx "$nginx_worker" "http://127.0.0.1:$NGINX_PORT/v1/assign"
profile serve "$serve_pid" "http://127.0.0.1:$SERVE_PORT/v1/assign"

python3 - "$work" "$FREQUENCY" "$DURATION" "$TOP" <<'PY'
import re, sys
work, frequency, duration, top = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])

def category(dso, symbol):
    if dso.startswith("[kernel") or symbol.startswith("[k]"):
        return "kernel"
    name = symbol.split("] ", 1)[-1]
    if dso == "allot":
        if re.search(r"writeAnswer|writeParams|answerLength|AnswerPlan|appendDecimal", name):
            return "answer writing"
        if re.search(r"evaluate|gate|holdoutMembership|UnitHash|XXH|xxh|Bucket|runProgram|Targeting", name):
            return "evaluation"
        return "allot, other (HTTP engine, query parsing, routing, Swift runtime)"
    if dso == "nginx":
        return "nginx"
    if dso.startswith("libc"):
        return "libc (copies, allocation)"
    if dso.startswith("libswift") or dso.startswith("libdispatch") or dso.startswith("libFoundation"):
        return "allot, other (HTTP engine, query parsing, routing, Swift runtime)"
    return "other libraries"

results = {}
for name in ("nginx", "serve"):
    text = open(f"{work}/{name}.wrk").read()
    requests = int(re.search(r"(\d+) requests in", text).group(1))
    samples = int(open(f"{work}/{name}.samples").read().strip() or 0)
    shares = {}
    hottest = []
    for line in open(f"{work}/{name}.report"):
        m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+(.*)$", line)
        if not m:
            continue
        key = category(m.group(2), m.group(3).strip())
        shares[key] = shares.get(key, 0.0) + float(m.group(1)) / 100
        hottest.append((float(m.group(1)), m.group(2), m.group(3).strip()[:110]))
    cpu_us = samples / frequency * 1e6
    per_request = cpu_us / requests
    results[name] = (requests, per_request, shares)
    print(f"== {name}: {requests / duration:,.0f} req/s, {samples} samples, {per_request:.2f} µs of CPU per request")
    for key, share in sorted(shares.items(), key=lambda kv: -kv[1]):
        print(f"   {key:70s} {share * 100:5.1f} %  {share * per_request:5.2f} µs")
    for percent, dso, symbol in sorted(hottest, reverse=True)[:top]:
        print(f"      {percent:5.1f} %  {dso:14s} {symbol}")
nginx, serve = results["nginx"], results["serve"]
print(f"== difference: {serve[1] - nginx[1]:.2f} µs of CPU per request (serve {serve[1]:.2f}, nginx {nginx[1]:.2f}); "
      f"kernel {serve[2].get('kernel', 0) * serve[1] - nginx[2].get('kernel', 0) * nginx[1]:+.2f} µs, "
      f"evaluation + answer writing {(serve[2].get('evaluation', 0) + serve[2].get('answer writing', 0)) * serve[1]:.2f} µs")
PY
