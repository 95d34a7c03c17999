#!/usr/bin/env bash
# allot analyze throughput: 10M exposure records (zstd segments, the exposure layout) and 10M metric
# events (CSV) read, parsed and aggregated, on one core (the analyzer is single-threaded). Prints the
# CPU seconds and events per CPU second of each phase and of the whole run, and the peak RSS.
# Not a test. Usage: Benchmarks/analysis/run.sh [RECORDS] [EVENTS]   (defaults 10000000 each)
set -euo pipefail
cd "$(dirname "$0")/../.."
records=${1:-10000000}
events=${2:-10000000}
data=".build/analysis-bench/$records-$events"
swift build -c release --product allot >/dev/null
allot=.build/release/allot
if [ ! -f "$data/events.csv" ]; then
  echo "generating $records exposure records and $events events in $data ..."
  python3 Benchmarks/analysis/generate.py "$data" --records "$records" --events "$events"
fi
measure() {  # prints "cpu_seconds peak_rss_kib"
  /usr/bin/time -f "%U %S %M" -o "$data/time.txt" "$@" >/dev/null
  awk '{ printf "%.3f %d\n", $1 + $2, $3 }' "$data/time.txt"
}
# Exposures alone (an events file with only its header), then both.
printf 'unit_id,metric,value,timestamp\n' > "$data/empty.csv"
read -r exposures_cpu exposures_rss < <(measure taskset -c 0 "$allot" analyze --exposures "$data/exposures" --events "$data/empty.csv" --experiment green-checkout-button --format json)
read -r total_cpu total_rss < <(measure taskset -c 0 "$allot" analyze --exposures "$data/exposures" --events "$data/events.csv" --experiment green-checkout-button --format json)
events_cpu=$(awk -v a="$total_cpu" -v b="$exposures_cpu" 'BEGIN { printf "%.3f", a - b }')
awk -v r="$records" -v e="$events" -v x="$exposures_cpu" -v ev="$events_cpu" -v t="$total_cpu" -v rss="$total_rss" 'BEGIN {
  printf "exposure records: %d in %.2f CPU s = %.2fM records/CPU-s\n", r, x, r / x / 1e6
  printf "metric events:    %d in %.2f CPU s = %.2fM events/CPU-s\n", e, ev, e / ev / 1e6
  printf "total:            %d in %.2f CPU s = %.2fM events/CPU-s, peak RSS %.0f MiB\n", r + e, t, (r + e) / t / 1e6, rss / 1024
}'
