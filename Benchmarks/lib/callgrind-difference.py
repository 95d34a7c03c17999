#!/usr/bin/env python3
"""Instructions per operation from two callgrind runs that differ by 10,000 operations.

    callgrind-difference.py LABEL FIRST.out SECOND.out

Prints "LABEL: N instructions per operation" (the difference of the two totals over 10,000), then
the functions that account for it (self cost per operation, 5 or more). Shared by
Benchmarks/count-instructions.sh and Benchmarks/http/count-instructions.sh.
"""
import collections
import re
import subprocess
import sys


def total(path):
    for line in open(path):
        if line.startswith("summary: "):
            return int(line.split()[1])
    raise SystemExit(f"no summary in {path}")


def costs(path):
    text = subprocess.run(["callgrind_annotate", "--threshold=100", "--inclusive=no", path], capture_output=True, text=True).stdout
    table = collections.Counter()
    for line in text.splitlines():
        match = re.match(r"\s*([\d,]+) \([^)]*\)\s+\S*?:(\S+)", line)
        if match:
            table[match.group(2)] += int(match.group(1).replace(",", ""))
    return table


label, first, second = sys.argv[1:4]
print(f"{label}: {(total(second) - total(first)) // 10000} instructions per operation")
a, b = costs(first), costs(second)
rows = sorted(((b[k] - a[k]) / 10000, k) for k in set(a) | set(b))
for cost, name in reversed(rows):
    if cost >= 5:
        print(f"{cost:9.0f}  {name[:150]}")
