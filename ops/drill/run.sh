#!/usr/bin/env bash
# The multi-region drill, full profile: builds the release `allot`, then runs ops/drill/drill.py
# (3 regions × 2 servers, latency between regions, failures, tampering, a 90 s soak under wrk).
# Prints the report; every number and check goes to WORKDIR/results.json (the path is printed).
# Takes about 6 minutes. Extra arguments go to drill.py (--help lists them), e.g.
#   ops/drill/run.sh --workdir /tmp/drill --json-out drill-results.json
set -euo pipefail
cd "$(dirname "$0")/../.."
swift build -c release --product allot
exec python3 ops/drill/drill.py --allot .build/release/allot "$@"
