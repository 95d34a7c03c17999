#!/usr/bin/env bash
# Batch assignment throughput: `allot assign --batch` over N newline-delimited JSON requests
# against the sample experiments, release build. Prints one JSON line; the baseline in the same
# run is `cat` of the same input into /dev/null (the cost of just moving the bytes).
#   Benchmarks/batch-assign.sh [N]    (default 1,000,000)
set -euo pipefail
cd "$(dirname "$0")/.."
count="${1:-1000000}"
swift build -c release --product allot >&2
allot=.build/release/allot
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
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
bytes=$(stat -c %s "$work/requests.ndjson")
start=$(date +%s%N)
cat "$work/requests.ndjson" > /dev/null
floor_ns=$(( $(date +%s%N) - start ))
start=$(date +%s%N)
"$allot" assign --bundle "$work/b.bundle" --trusted-key "$work/keys/signing.pub" --batch "$work/requests.ndjson" --at 1796083200 > "$work/answers.ndjson"
elapsed_ns=$(( $(date +%s%N) - start ))
lines=$(wc -l < "$work/answers.ndjson")
errors=$(grep -c '"error"' "$work/answers.ndjson" || true)
out_bytes=$(stat -c %s "$work/answers.ndjson")
python3 -c "
import json
seconds = $elapsed_ns / 1e9
print(json.dumps({'name': 'batch_assign', 'requests': $count, 'answers': $lines, 'errors': $errors, 'seconds': round(seconds, 3),
  'requests_per_second': round($count / seconds), 'ns_per_op': round($elapsed_ns / $count, 1),
  'input_mb': round($bytes / 1e6, 1), 'output_mb': round($out_bytes / 1e6, 1), 'cat_floor_seconds': round($floor_ns / 1e9, 3)}))"
