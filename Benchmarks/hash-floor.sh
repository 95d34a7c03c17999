#!/usr/bin/env bash
# The evaluator against the hashing floor in C: the reference xxHash library (libxxhash-dev)
# computing the same 100 XXH3-64 hashes a 50-layer evaluation needs, interleaved with the Swift
# evaluate benchmark, all pinned to one core, three rounds. One JSON line per measurement.
#   Benchmarks/hash-floor.sh
# Needs gcc and libxxhash-dev (apt-get install -y libxxhash-dev).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f /usr/include/xxhash.h ] || { echo "needs libxxhash-dev (apt-get install -y libxxhash-dev)" >&2; exit 1; }
swift build -c release --product allot-benchmarks >&2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gcc -O2 -o "$work/floor" Benchmarks/hash-floor/floor.c
for _ in 1 2 3; do
  taskset -c 0 "$work/floor" 200000
  taskset -c 0 .build/release/allot-benchmarks evaluate | grep -E '"(evaluate_all_layers|hash_floor_100_buckets_tight)"'
done
