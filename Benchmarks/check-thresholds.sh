#!/usr/bin/env bash
# Checks the promises in Benchmarks/thresholds.json: instructions per operation of the hot loops
# (callgrind, exact whatever else runs on the machine) within the recorded count's tolerance, and
# their heap allocations per operation (the malloc-count shim) exactly. Fails on a regression; a
# count that fell asks for the file to be lowered, so improvements are kept. Run by scripts/test.
#   Benchmarks/check-thresholds.sh            # check
#   Benchmarks/check-thresholds.sh --record   # write the measured counts into thresholds.json
# Each loop runs twice, with N and N + 10,000 operations; the difference over 10,000 is the
# operation's own cost (building the bundle and the inputs cancels out).
set -euo pipefail
cd "$(dirname "$0")/.."
record=false
[ "${1:-}" = "--record" ] && record=true
swift build -c release --product allot-benchmarks >&2
shim=.build/malloc-count.so
if [ ! -f "$shim" ] || [ Benchmarks/malloc-count/malloc_count.c -nt "$shim" ]; then
  gcc -O2 -shared -fPIC -o "$shim" Benchmarks/malloc-count/malloc_count.c
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SWIFT_DETERMINISTIC_HASHING=1
modes=$(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))["instructions"]))' Benchmarks/thresholds.json)
for mode in $modes; do
  Benchmarks/count-instructions.sh "$mode" > "$work/$mode.instructions"
  for n in 2000 12000; do
    ALLOT_MALLOC_COUNT_REPORT="$work/$mode.$n.allocations" LD_PRELOAD="$PWD/$shim" .build/release/allot-benchmarks "$mode" "$n" >/dev/null
  done
done
python3 - "$work" "$record" $modes <<'PY'
import json, re, sys
work, record, modes = sys.argv[1], sys.argv[2] == "true", sys.argv[3:]
path = "Benchmarks/thresholds.json"
limits = json.load(open(path))
tolerance = limits["tolerance"]
failures, stale = [], []
for mode in modes:
    first_line = open(f"{work}/{mode}.instructions").readline()
    instructions = int(re.match(rf"{re.escape(mode)}: (\d+) instructions per operation", first_line).group(1))
    counts = [int(open(f"{work}/{mode}.{n}.allocations").read()) for n in (2000, 12000)]
    allocations = (counts[1] - counts[0]) / 10000
    recorded = limits["instructions"][mode]
    print(f"{mode}: {instructions} instructions per operation (recorded {recorded}, tolerance {tolerance:.0%}); "
          f"{allocations:g} allocations per operation (promised {limits['allocations'][mode]})")
    if record:
        limits["instructions"][mode] = instructions
        continue
    if instructions > recorded * (1 + tolerance):
        failures.append(f"{mode}: {instructions} instructions per operation, over {recorded} + {tolerance:.0%}")
    elif instructions < recorded * (1 - tolerance):
        stale.append(f"{mode}: {instructions} instructions per operation, well under the recorded {recorded}")
    # The setup (a parallel compile) may differ by a few allocations between the two runs: a
    # hundredth per operation (100 in 10,000) is setup noise, one per operation is a regression.
    if allocations > limits["allocations"][mode] + 0.01:
        failures.append(f"{mode}: {allocations:g} heap allocations per operation, promised {limits['allocations'][mode]}")
if record:
    json.dump(limits, open(path, "w"), indent=2)
    open(path, "a").write("\n")
    print(f"recorded in {path}")
for line in stale:
    print(f"error: {line}: lower it with Benchmarks/check-thresholds.sh --record (and say so in docs/performance.md)", file=sys.stderr)
for line in failures:
    print(f"error: {line}", file=sys.stderr)
sys.exit(1 if failures or stale else 0)
PY
