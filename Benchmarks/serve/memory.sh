#!/usr/bin/env bash
# Where `allot serve`'s resident memory goes: the 1,000-experiment / 50-layer bundle served from a
# folder store, one thread, RSS read from /proc/PID/smaps at start, after DURATION seconds of wrk
# with a random user per request (and one bundle swap half way), split by what is mapped: the
# bundle, anonymous memory (malloc heap and arenas, thread stacks), the allot binary, the Swift
# runtime, Foundation, libcurl and the TLS libraries it links, the C/C++ runtime, the rest; and
# the dirty part (what the process alone holds; the rest is clean, shared and reclaimable).
# The deployed binary is the static build (ops/deploy/release.sh): measure it with
# ALLOT=.build/static/release/allot after ops/deploy/build.sh.
# The binary is read into the page cache first: the kernel maps the 64 KiB around each page of text
# a fault touches only where those pages are cached, so a binary partly on disk shows less resident
# text than one a host has run before. Fully cached is the reproducible (and the larger) case; and
# written back (sync), or a binary the linker has just written counts its unwritten pages as dirty.
# Same-run baselines: a C program that only links libcurl, Swift programs with and without
# Foundation (what linking them costs before any work), and allot-http-bench (the HTTP engine
# alone).
#
# STORE=s3 serves from an S3 store (a moto server on loopback, as a deployment serves from regional
# object storage) instead of a folder: the S3 transport (libcurl, TLS) is then initialised too.
#
# Environment: STORE [folder] or s3, DURATION [10], CONNECTIONS [32], SERVER_CPUS [0], WRK_CPUS [1], PORT_BASE [18610],
# SKIP_BUILD [0], ALLOT [.build/release/allot] (another build to compare), CONFIGS (space-separated; each is "name=ENV" run as its own server, e.g.
# "arena1=MALLOC_ARENA_MAX=1"; default: the plain server only).
set -euo pipefail

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
SERVER_CPUS=${SERVER_CPUS-0}
WRK_CPUS=${WRK_CPUS-1}
PORT_BASE=${PORT_BASE:-18610}
SKIP_BUILD=${SKIP_BUILD:-0}
CONFIGS=${CONFIGS:-default=}
QUERY='country=US&app_version=5.3.0&platform=ios'
SERVER_THREADS=1

root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d /tmp/allot-memory-bench.XXXXXX)"
source "$root/Benchmarks/lib/compare-with-nginx.sh"
clean_up_on_exit
require_tools wrk curl python3 gcc swiftc

build_release allot allot-benchmarks allot-http-bench
allot="${ALLOT:-$root/.build/release/allot}"
bench="$root/.build/release/allot-benchmarks"

# breakdown PID LABEL: one JSON line of resident KiB by kind of mapping.
breakdown() {
  python3 - "$1" "$2" "$allot" <<'PY'
import json, re, sys
pid, label, binary = sys.argv[1], sys.argv[2], sys.argv[3]
kinds = {}
name = None
def kind(path):
    if path is None or path == "" or path.startswith("[heap]") or path.startswith("[stack") or path.startswith("[anon"):
        return "anonymous"
    if path.endswith(".payload"): return "bundle"
    if path == binary or path.endswith("/allot") or "allot-" in path.rsplit("/", 1)[-1]: return "binary"
    base = path.rsplit("/", 1)[-1]
    if re.match(r"lib(Foundation|_Foundation|FoundationEssentials|FoundationInternationalization|_FoundationICU)", base) or "FoundationICU" in base:
        return "foundation"
    if base.startswith("libswift") or base.startswith("libdispatch") or base.startswith("libBlocksRuntime"): return "swift_runtime"
    if re.match(r"lib(curl|crypto|ssl|gnutls|nettle|hogweed|gmp|p11-kit|tasn1|idn2|unistring|krb5|k5crypto|gssapi|ldap|lber|sasl2|ssh2|rtmp|psl|nghttp2|brotli|zstd|z\.|ffi|keyutils|com_err|resolv|krb5support)", base):
        return "curl_and_tls"
    if re.match(r"(libc\.|libm\.|libstdc\+\+|libgcc_s|ld-linux|libpthread|libdl|librt)", base): return "c_runtime"
    if base.startswith("[vdso]") or base.startswith("[vvar]") or base.startswith("[vsyscall]"): return "kernel"
    return "other_libs"
for line in open(f"/proc/{pid}/smaps"):
    fields = line.split()
    if re.match(r"^[0-9a-f]+-[0-9a-f]+$", fields[0]):
        name = fields[5] if len(fields) > 5 else ""
    elif fields[0] == "Rss:":
        k = kind(name)
        kinds[k] = kinds.get(k, 0) + int(fields[1])
rss = sum(kinds.values())
# What the process alone holds: dirty pages (anonymous memory, relocated data). The rest is clean
# file-backed text and data, shared with every process mapping the same files and reclaimable.
dirty = sum(int(line.split()[1]) for line in open(f"/proc/{pid}/smaps_rollup") if line.startswith(("Private_Dirty:", "Shared_Dirty:")))
threads = len(__import__("os").listdir(f"/proc/{pid}/task"))
print(json.dumps({"label": label, "rss_kib": rss, "rss_beyond_bundle_mib": round((rss - kinds.get("bundle", 0)) / 1024, 1), "threads": threads, "dirty_kib": dirty,
                  **{k + "_kib": v for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])}}))
PY
}

echo "== baselines: what linking costs before any work"
cat > "$work/curl_only.c" <<'C'
#include <curl/curl.h>
#include <stdio.h>
#include <unistd.h>
int main(void) { curl_global_init(CURL_GLOBAL_DEFAULT); puts("ready"); fflush(stdout); pause(); return 0; }
C
cat > "$work/c_only.c" <<'C'
#include <stdio.h>
#include <unistd.h>
int main(void) { puts("ready"); fflush(stdout); pause(); return 0; }
C
printf 'import Glibc\nprint("ready")\nfflush(stdout)\npause()\n' > "$work/swift_only.swift"
printf 'import Foundation\nprint("ready", FileManager.default.fileExists(atPath: "/"), Date())\nfflush(stdout)\npause()\n' > "$work/swift_foundation.swift"
gcc -O2 -o "$work/c_only" "$work/c_only.c"
gcc -O2 -o "$work/curl_only" "$work/curl_only.c" -lcurl
swiftc -O -o "$work/swift_only" "$work/swift_only.swift" 2>/dev/null
swiftc -O -o "$work/swift_foundation" "$work/swift_foundation.swift" 2>/dev/null
for program in c_only curl_only swift_only swift_foundation; do
  "$work/$program" > /dev/null &
  pid=$!
  pids+=("$pid")
  sleep 0.5
  echo "{\"label\":\"$program\",\"rss_kib\":$(awk '/^Rss:/ {print $2}' "/proc/$pid/smaps_rollup"),\"anonymous_kib\":$(awk '/^Anonymous:/ {print $2}' "/proc/$pid/smaps_rollup")}"
  kill "$pid"
done
"$root/.build/release/allot-http-bench" --port "$((PORT_BASE + 5))" --threads 1 > /dev/null 2>&1 &
pid=$!
pids+=("$pid")
sleep 0.5
breakdown "$pid" "allot-http-bench idle (the HTTP engine alone)"
kill "$pid"

publish_scale_bundle
store="$work/store"
if [ "${STORE:-folder}" = s3 ]; then
  require_tools moto_server
  moto_port=$((PORT_BASE + 100))
  moto_server -H 127.0.0.1 -p "$moto_port" > "$work/moto.log" 2>&1 &
  pids+=("$!")
  for attempt in $(seq 101); do
    curl -sf -X PUT "http://127.0.0.1:$moto_port/allot-memory" > /dev/null && break
    [ "$attempt" -le 100 ] || { echo "moto did not start on $moto_port:" >&2; cat "$work/moto.log" >&2; exit 1; }
    sleep 0.1
  done
  export AWS_ACCESS_KEY_ID=memory AWS_SECRET_ACCESS_KEY=memory
  store="s3://allot-memory/prod?endpoint=http://127.0.0.1:$moto_port&region=us-east-1"
  "$allot" publish "$work/bundle" --store "$store" --signing-key "$work/keys/signing.key" > /dev/null
  echo "   store: $store"
fi
write_random_user_lua "$work/random.lua" "$QUERY"

port=$PORT_BASE
for config in $CONFIGS; do
  name=${config%%=*}
  settings=${config#*=}
  port=$((port + 1))
  rm -rf "$work/cache"
  cat "$allot" > /dev/null
  sync "$allot"
  env $settings $(pin "$SERVER_CPUS") "$allot" serve --store "$store" --trusted-key "$work/keys/signing.pub" \
    --cache-dir "$work/cache" --listen "127.0.0.1:$port" --threads 1 --poll-interval 1 --log-level warning > "$work/serve-$name.log" 2>&1 &
  serve_pid=$!
  pids+=("$serve_pid")
  wait_for "http://127.0.0.1:$port/readyz"
  sleep 1
  breakdown "$serve_pid" "$name: ready ($settings)"
  half=$((DURATION / 2))
  (sleep "$half"
    "$allot" compile --experiments "$work/experiments" --signing-key "$work/keys/signing.key" --version "$port" \
      --created-at 1764374400 --output "$work/swap.bundle" > /dev/null
    "$allot" publish "$work/swap.bundle" --store "$store" --signing-key "$work/keys/signing.key" > /dev/null) &
  swap_pid=$!
  $(pin "$WRK_CPUS") wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" -s "$work/random.lua" "http://127.0.0.1:$port/" | grep -E "Requests/sec" \
    | sed 's/^/   /'
  wait "$swap_pid"
  sleep 2
  echo "   version served: $(curl -sf "http://127.0.0.1:$port/v1/assign?user_id=x" | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')"
  breakdown "$serve_pid" "$name: after ${DURATION}s of load and a swap ($settings)"
  kill "$serve_pid"
  wait "$serve_pid" 2>/dev/null || true
done
