#!/usr/bin/env bash
# Instructions per operation, counted by callgrind (wall-clock time on a shared machine is noisy;
# instruction counts are not). Runs a loop benchmark twice, with N and N + 10,000 iterations, and
# divides the difference by 10,000, so building the bundle and the inputs cancels out.
#   Benchmarks/count-instructions.sh [evaluate-loop|answer-loop|answer-in-place-loop|record-loop] [N]
#   (defaults: evaluate-loop 2000)
# Prints the count, then the functions that account for it (self cost per operation).
# Needs valgrind. The binary is stripped of debug info first (valgrind cannot read Swift's DWARF);
# SWIFT_DETERMINISTIC_HASHING=1 makes the setup's dictionary work identical in both runs.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-evaluate-loop}"
first="${2:-2000}"
second=$((first + 10000))
swift build -c release --product allot-benchmarks >&2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
strip --strip-debug -o "$work/bench" .build/release/allot-benchmarks
export SWIFT_DETERMINISTIC_HASHING=1
for n in "$first" "$second"; do
  valgrind --tool=callgrind --callgrind-out-file="$work/$n.out" "$work/bench" "$mode" "$n" >/dev/null 2>"$work/$n.log"
done
python3 Benchmarks/lib/callgrind-difference.py "$mode" "$work/$first.out" "$work/$second.out"
