#!/usr/bin/env bash
# Instructions per operation, counted by callgrind (wall-clock time on a shared machine is noisy;
# instruction counts are not). Runs a loop benchmark twice, with N and N + 10,000 iterations, and
# divides the difference by 10,000, so building the bundle and the inputs cancels out.
#   Benchmarks/count-instructions.sh [evaluate-loop|answer-loop] [N]   (defaults: evaluate-loop 2000)
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
total() { sed -n 's/^summary: //p' "$1"; }
a=$(total "$work/$first.out")
b=$(total "$work/$second.out")
echo "$mode: $(( (b - a) / 10000 )) instructions per operation"
python3 - "$work/$first.out" "$work/$second.out" <<'PY'
import collections, re, subprocess, sys
def costs(path):
    text = subprocess.run(["callgrind_annotate", "--threshold=100", "--inclusive=no", path], capture_output=True, text=True).stdout
    table = collections.Counter()
    for line in text.splitlines():
        match = re.match(r"\s*([\d,]+) \([^)]*\)\s+\S*?:(\S+)", line)
        if match:
            table[match.group(2)] += int(match.group(1).replace(",", ""))
    return table
a, b = costs(sys.argv[1]), costs(sys.argv[2])
rows = sorted(((b[k] - a[k]) / 10000, k) for k in set(a) | set(b))
for cost, name in reversed(rows):
    if cost >= 5:
        print(f"{cost:9.0f}  {name[:150]}")
PY
