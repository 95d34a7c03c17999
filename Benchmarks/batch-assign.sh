#!/usr/bin/env bash
# Batch assignment throughput: `allot assign --batch` over N newline-delimited JSON requests
# against the sample experiments, release build, answers written to a file (in /dev/shm when there
# is one: on a disk, writeback of the previous run's 570 MB throttles the next run, whichever it
# is, by as much as the work itself). Interleaved rounds of:
# `cat` of the same input into a file and of the same answers into a file (the cost of just moving
# those bytes: the same-run floor), the batch on one thread (`--threads 1`) and on every core the
# process may use. Prints one JSON line per round with wall-clock seconds and CPU seconds
# (user + system, from /usr/bin/time), and checks the answers are byte-identical every time.
#   Benchmarks/batch-assign.sh [N]    (default 1,000,000; ROUNDS [3]; SKIP_BUILD [0])
set -euo pipefail
cd "$(dirname "$0")/.."
count="${1:-1000000}"
ROUNDS=${ROUNDS:-3}
if [ "${SKIP_BUILD:-0}" != 1 ]; then swift build -c release --product allot >&2; fi
allot=${ALLOT:-.build/release/allot}
work=$(mktemp -d)
out_dir=$(mktemp -d -p "$([ -w /dev/shm ] && echo /dev/shm || echo "$work")")
trap 'rm -rf "$work" "$out_dir"' EXIT
"$allot" keygen --out "$work/keys" >/dev/null
"$allot" compile --experiments experiments --version 1 --created-at 0 --signing-key "$work/keys/signing.key" --output "$work/b.bundle" >/dev/null
python3 - "$count" > "$work/requests.ndjson" <<'PY'
import random, sys
random.seed(7)
countries = ["US", "CA", "GB", "DE", "FR", "JP", "BR"]
platforms = ["ios", "android", "web"]
out = sys.stdout
for i in range(int(sys.argv[1])):
    out.write('{"units":{"user_id":"user-%d","device_id":"device-%d"},"attributes":{"country":"%s","platform":"%s","app_version":"5.%d.0","plan":"free"}}\n'
              % (i, i, random.choice(countries), random.choice(platforms), i % 9))
PY
# timed COMMAND...: runs COMMAND with stdout to $out_dir/out, prints "wall user system".
timed() { /usr/bin/time -f "%e %U %S" -o "$work/time" "$@" > "$out_dir/out"; cat "$work/time"; }
assign=("$allot" assign --bundle "$work/b.bundle" --trusted-key "$work/keys/signing.pub" --batch "$work/requests.ndjson" --at 1796083200)
"${assign[@]}" --threads 1 > "$out_dir/reference.ndjson"
for round in $(seq "$ROUNDS"); do
  load=$(cut -d' ' -f1 /proc/loadavg)
  read -r cat_in_wall _ cat_in_sys < <(timed cat "$work/requests.ndjson")
  read -r cat_out_wall _ cat_out_sys < <(timed cat "$out_dir/reference.ndjson")
  read -r one_wall one_user one_sys < <(timed "${assign[@]}" --threads 1)
  cmp -s "$out_dir/out" "$out_dir/reference.ndjson" || { echo "answers on one thread differ" >&2; exit 1; }
  read -r all_wall all_user all_sys < <(timed "${assign[@]}")
  cmp -s "$out_dir/out" "$out_dir/reference.ndjson" || { echo "answers on every core differ from one thread's" >&2; exit 1; }
  python3 -c "
import json, os
count = $count
print(json.dumps({'name': 'batch_assign', 'round': $round, 'requests': count, 'threads': len(os.sched_getaffinity(0)),
  'requests_per_second': round(count / $all_wall), 'seconds': $all_wall, 'cpu_seconds': round($all_user + $all_sys, 2),
  'requests_per_second_one_thread': round(count / $one_wall), 'seconds_one_thread': $one_wall, 'cpu_seconds_one_thread': round($one_user + $one_sys, 2),
  'input_mb': round(os.path.getsize('$work/requests.ndjson') / 1e6, 1), 'output_mb': round(os.path.getsize('$out_dir/reference.ndjson') / 1e6, 1),
  'cat_input_seconds': $cat_in_wall, 'cat_output_seconds': $cat_out_wall, 'cat_output_system_seconds': $cat_out_sys,
  'load_average': $load}))"
done
