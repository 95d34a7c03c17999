#!/usr/bin/env bash
# Builds the benchmark server (the `allot-http-bench` product: AllotHTTP and BenchServer/BenchMain.swift)
# in release mode; prints its path.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
(cd "$root" && swift build -c release --product allot-http-bench >&2)
echo "$root/.build/release/allot-http-bench"
