#!/usr/bin/env bash
# Measures what the Kubernetes requests/limits and the systemd memory settings are sized from:
# one `allot serve` with 2 threads (one pod of ops/deploy/kubernetes), under wrk with a random unit
# per request, first on the sample bundle (experiments/), then after swapping in a bundle with a
# 2.8M-id segment (~100 MB payload, the largest realistic bundle of docs/architecture.md §3).
# Prints req/s, resident memory (anonymous and file-backed, sampled every 0.5 s), the peak (VmHWM),
# descriptors, and the cache's size on disk. Not a test: numbers for docs/deploy.md ("Sizing").
#
#   ops/deploy/measure-sizing.sh [ALLOT_BINARY]      (default: the static release build, built if missing)
# Environment: DURATION [15] seconds per wrk run, CONNECTIONS [64], PORT [18690], IDS [2800000].
set -euo pipefail
cd "$(dirname "$0")/../.."
allot="${1:-.build/static/release/allot}"
if [ ! -x "$allot" ]; then
  ops/deploy/build.sh
fi
allot="$(cd "$(dirname "$allot")" && pwd)/$(basename "$allot")"
DURATION=${DURATION:-15}
CONNECTIONS=${CONNECTIONS:-64}
PORT=${PORT:-18690}
IDS=${IDS:-2800000}
work=$(mktemp -d /tmp/allot-sizing.XXXXXX)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

echo "== $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores; $("$allot" --version | head -1)"
cd "$work"
"$allot" keygen --out keys >/dev/null
cp -r "$OLDPWD/experiments" small
"$allot" compile --experiments small --signing-key keys/signing.key --version 1 --created-at 2026-12-01T00:00:00Z --output 1.bundle | tail -1
# The large project: the sample plus a segment of $IDS ids that one experiment targets.
cp -r "$OLDPWD/experiments" large
python3 - "$IDS" <<'EOF'
import sys
count = int(sys.argv[1])
with open("large/big-ids.txt", "w") as file:
    file.write("".join(f"user-{i * 13}\n" for i in range(count)))
with open("large/sizing.yaml", "w") as file:
    file.write("""kind: Layer
name: sizing
unit: user_id
params: { sizing_on: { type: bool, default: false } }
---
kind: Segment
name: big-allowlist
unit: user_id
idsFile: big-ids.txt
---
kind: Experiment
name: sizing-gated
layer: sizing
owner: ops@example.com
status: running
traffic: 100%
segments: [big-allowlist]
variants: [ { name: on, weight: 100%, params: { sizing_on: true } } ]
""")
EOF
if ! "$allot" compile --experiments large --signing-key keys/signing.key --version 2 --created-at 2026-12-02T00:00:00Z --output 2.bundle >compile.log 2>&1; then
  echo "the large project did not compile:"; cat compile.log; exit 1
fi
tail -1 compile.log
"$allot" publish 1.bundle --signing-key keys/signing.key --store store >/dev/null

"$allot" serve --store store --trusted-key keys/signing.pub --listen "127.0.0.1:$PORT" --cache-dir cache \
  --threads 2 --poll-interval 1 --max-backoff 2 2>serve.log &
server=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done

cat >random.lua <<'EOF'
math.randomseed(42)
request = function()
  return wrk.format("GET", "/v1/assign?user_id=user-" .. (math.random(0, 5000000) * 13) .. "&country=US&app_version=5.3.0&platform=ios")
end
EOF

sample() {  # prints the maximum RssAnon, RssFile (KiB) seen while wrk runs, then VmHWM
  local anon=0 file=0
  while kill -0 "$1" 2>/dev/null; do
    read -r a f < <(awk '/RssAnon/ {a=$2} /RssFile/ {f=$2} END {print a, f}' "/proc/$server/status")
    [ "$a" -gt "$anon" ] && anon=$a
    [ "$f" -gt "$file" ] && file=$f
    sleep 0.5
  done
  echo "$anon $file $(awk '/VmHWM/ {print $2}' "/proc/$server/status")"
}

measure() {
  wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s random.lua "http://127.0.0.1:$PORT/" >wrk.txt &
  local load=$!
  read -r anon file hwm < <(sample "$load")
  wait "$load"
  local rps p99
  rps=$(awk '/Requests\/sec/ {print $2}' wrk.txt)
  p99=$(awk '/Latency Distribution/ {d=1} d && $1 == "99%" {print $2; exit}' wrk.txt)
  echo "$1: $rps req/s (p99 ${p99:-n/a}), RssAnon max $((anon / 1024)) MiB, RssFile max $((file / 1024)) MiB, VmHWM $((hwm / 1024)) MiB, fds $(ls /proc/$server/fd | wc -l), non-2xx: $(awk '/Non-2xx/ {print $4} END {}' wrk.txt)"
}

measure "sample bundle (v1)"
"$allot" publish 2.bundle --signing-key keys/signing.key --store store >/dev/null
for _ in $(seq 600); do curl -fs "http://127.0.0.1:$PORT/readyz" | grep -q '"version":2' && break; sleep 0.1; done
echo "swapped to v2: peak so far VmHWM $(( $(awk '/VmHWM/ {print $2}' /proc/$server/status) / 1024 )) MiB; cache on disk $(du -sm cache | cut -f1) MiB"
measure "2.8M-id segment bundle (v2)"
# A swap from one large bundle to another: both mapped while requests finish on the old one.
"$allot" compile --experiments large --signing-key keys/signing.key --version 3 --created-at 2026-12-03T00:00:00Z --output 3.bundle >compile.log 2>&1
"$allot" publish 3.bundle --signing-key keys/signing.key --store store >/dev/null
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" -s random.lua "http://127.0.0.1:$PORT/" >/dev/null &
load=$!
for _ in $(seq 600); do curl -fs "http://127.0.0.1:$PORT/readyz" | grep -q '"version":3' && break; sleep 0.1; done
wait "$load"
echo "swapped v2 → v3 under load: VmHWM $(( $(awk '/VmHWM/ {print $2}' /proc/$server/status) / 1024 )) MiB, now RSS $(( $(awk '/VmRSS/ {print $2}' /proc/$server/status) / 1024 )) MiB; cache on disk $(du -sm cache | cut -f1) MiB"
curl -fs "http://127.0.0.1:$PORT/v1/bundle"; echo
