#!/usr/bin/env bash
# Instructions the engine spends per request, counted by callgrind (exact whatever else runs on the
# machine). Runs the benchmark server (one thread, FixedResponseHandler, 200-byte body) under
# callgrind twice, answering N and N + 10,000 keep-alive GETs sent one at a time by a Python client,
# and divides the difference by 10,000, so start-up and shutdown cancel out.
#   Benchmarks/http/count-instructions.sh [N]          (default 2000)
#   BENCH_BINARY=path Benchmarks/http/count-instructions.sh   counts another build of the server
# Prints the count, then the functions that account for it (self cost per request). Needs valgrind.
set -euo pipefail
cd "$(dirname "$0")/../.."
first="${1:-2000}"
second=$((first + 10000))
binary="${BENCH_BINARY:-}"
if [ -z "$binary" ]; then binary="$(Benchmarks/http/build-server.sh)"; fi
work=$(mktemp -d)
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
strip --strip-debug -o "$work/bench" "$binary"
export SWIFT_DETERMINISTIC_HASHING=1
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
for n in "$first" "$second"; do
  valgrind --tool=callgrind --callgrind-out-file="$work/$n.out" "$work/bench" --port "$port" --threads 1 >"$work/$n.stdout" 2>"$work/$n.log" &
  server=$!
  python3 - "$port" "$n" <<'PY'
import socket, sys, time
port, count = int(sys.argv[1]), int(sys.argv[2])
deadline = time.time() + 60
while True:
    try:
        sock = socket.create_connection(("127.0.0.1", port))
        break
    except OSError:
        if time.time() > deadline: raise
        time.sleep(0.1)
request = b"GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: count\r\nAccept: */*\r\n\r\n"
pending = b""
for _ in range(count):
    sock.sendall(request)
    while True:
        end = pending.find(b"\r\n\r\n")
        if end >= 0:
            head = pending[:end].decode()
            length = int([l.split(":")[1] for l in head.split("\r\n") if l.lower().startswith("content-length")][0])
            if len(pending) >= end + 4 + length:
                assert head.startswith("HTTP/1.1 200"), head
                pending = pending[end + 4 + length:]
                break
        chunk = sock.recv(65536)
        if not chunk: raise SystemExit("server closed the connection")
        pending += chunk
sock.close()
PY
  kill -TERM "$server"
  wait "$server" || true
  server=""
done
python3 Benchmarks/lib/callgrind-difference.py engine "$work/$first.out" "$work/$second.out"
