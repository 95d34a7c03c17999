#!/usr/bin/env bash
# Builds the benchmark server in release mode from the current engine sources; prints its path.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$root/.build/http-bench"
mkdir -p "$work/Sources/allot-http-bench"
cp "$root/Benchmarks/http/BenchServer/Package.swift" "$work/Package.swift"
[ -f "$root/Package.resolved" ] && cp "$root/Package.resolved" "$work/Package.resolved"
rm -rf "$work/Sources/allot-http-bench"/*
cp "$root"/Sources/AllotServer/HTTP/*.swift "$root"/Sources/AllotServer/Metrics/*.swift "$work/Sources/allot-http-bench/"
cp "$root/Benchmarks/http/BenchServer/BenchMain.swift" "$work/Sources/allot-http-bench/"
(cd "$work" && swift build -c release --product allot-http-bench >&2)
echo "$work/.build/release/allot-http-bench"
