#!/usr/bin/env bash
# Resident memory of the engine under stalled uploads: CONNECTIONS clients each send a POST head
# announcing LENGTH body bytes, then SENT of them, and stop. Prints the server's resident memory
# (RSS, and its peak) idle, while the uploads stall, and after they have all closed, with how many
# uploads the server refused (413/503 with Retry-After) and how many it held.
#   Benchmarks/http/stalled-uploads.sh
#   CONNECTIONS=1000 LENGTH=1048576 SENT=524288 SERVER_THREADS=2 Benchmarks/http/stalled-uploads.sh
#   BENCH_BINARY=path ...   measures another build of the benchmark server (e.g. an older engine)
set -euo pipefail
cd "$(dirname "$0")/../.."
CONNECTIONS=${CONNECTIONS:-1000}
LENGTH=${LENGTH:-1048576}
SENT=${SENT:-524288}
SERVER_THREADS=${SERVER_THREADS:-2}
binary="${BENCH_BINARY:-}"
if [ -z "$binary" ]; then binary="$(Benchmarks/http/build-server.sh)"; fi
ulimit -n $((CONNECTIONS * 2 + 256))
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$binary" --port "$port" --threads "$SERVER_THREADS" > /dev/null 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT
python3 - "$port" "$server" "$CONNECTIONS" "$LENGTH" "$SENT" <<'PY'
import socket, sys, time, select
port, pid, count, length, sent = map(int, sys.argv[1:])
def memory():
    fields = {}
    for line in open(f"/proc/{pid}/status"):
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields["VmRSS"], fields["VmHWM"]
deadline = time.time() + 30
while True:
    try:
        socket.create_connection(("127.0.0.1", port)).close()
        break
    except OSError:
        if time.time() > deadline: raise
        time.sleep(0.1)
time.sleep(0.5)
print(f"idle:                         RSS {memory()[0]}")
head = f"POST / HTTP/1.1\r\nHost: bench\r\nContent-Length: {length}\r\n\r\n".encode()
payload = head + b"u" * sent
clients = []
started = time.time()
for _ in range(count):
    s = socket.create_connection(("127.0.0.1", port))
    s.setblocking(False)
    clients.append([s, 0])
# Push every client's bytes as far as the sockets take them.
for _ in range(400):
    pending = False
    for client in clients:
        s, offset = client
        if offset < len(payload):
            try:
                offset += s.send(payload[offset:offset + 65536])
            except BlockingIOError:
                pending = True
            except OSError:
                offset = len(payload)
            client[1] = offset
            pending = pending or offset < len(payload)
    if not pending: break
    time.sleep(0.01)
time.sleep(3)
rss, peak = memory()
print(f"{count} uploads stalled ({sent} of {length} bytes sent each, {time.time() - started:.1f} s): RSS {rss}, peak {peak}")
# Which uploads did the server answer (refuse) while they stalled?
refused = {}
for s, _ in clients:
    try:
        data = s.recv(4096)
    except BlockingIOError:
        continue
    except OSError:
        refused["reset"] = refused.get("reset", 0) + 1
        continue
    status = data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/") else ("closed" if not data else "other")
    retry = b"\r\nRetry-After:" in data
    key = f"{status}{' + Retry-After' if retry else ''}"
    refused[key] = refused.get(key, 0) + 1
held = count - sum(refused.values())
print(f"answered while stalling: {dict(sorted(refused.items())) or 'none'}; held open without an answer: {held}")
for s, _ in clients: s.close()
time.sleep(3)
rss, peak = memory()
print(f"after all closed (3 s):       RSS {rss}, peak {peak}")
PY
