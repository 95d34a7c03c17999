#!/usr/bin/env bash
# Builds the benchmarks in release mode and runs them, one JSON line per benchmark.
# Each line carries its own same-run baseline (the hashing floor, the parts of loading, the YAML
# parse floor) so results from a noisy shared machine stay comparable.
#   Benchmarks/run.sh                 # everything
#   Benchmarks/run.sh evaluate|load|compile [--quick]
# Evaluation and loading run pinned to one core (taskset -c 0); the compile benchmark runs on every
# core the process may use (it parses files in parallel) and reports one thread beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product allot-benchmarks >&2
bin=.build/release/allot-benchmarks
shim=.build/malloc-count.so
if [ ! -f "$shim" ] || [ Benchmarks/malloc-count/malloc_count.c -nt "$shim" ]; then
  gcc -O2 -shared -fPIC -o "$shim" Benchmarks/malloc-count/malloc_count.c
fi
what="${1:-all}"
shift || true
run() { LD_PRELOAD="$PWD/$shim" taskset -c 0 "$bin" "$@"; }
case "$what" in
  all) run evaluate "$@"; run load "$@"; "$bin" compile "$@" ;;
  compile) "$bin" compile "$@" ;;
  *) run "$what" "$@" ;;
esac
