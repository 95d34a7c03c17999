#!/usr/bin/env python3
"""Writes ops/deploy/allot.order: the functions a serving `allot` runs, hottest first.

ops/deploy/build.sh links the deployed binary with every function in a section of its own and
these functions first, together (lld --symbol-ordering-file). The kernel maps the whole aligned
64 KiB block around each page of text a fault touches (fault-around), so code a server never runs
(the compiler, the analyzer, the CLI) becomes resident when it sits beside code it does run;
packed together, the serving code fills the blocks it faults in. See docs/performance.md,
"Resident memory of allot serve".

How: a build of `allot` (debug information stripped from a copy: valgrind cannot read the DWARF 5
the toolchain writes) serves the repository's experiments under callgrind, with

  * an S3 store (moto) as primary, a folder as fallback, the exposure log shipping to a folder;
  * requests of every route: GET and POST /v1/assign, HEAD, /v1/assign/batch, OFREP (one flag and
    bulk), /v1/bundle, /healthz, /readyz, /metrics, and refused ones (404, 400, 405, a bad request
    line);
  * a new bundle published half way (the poll, verify, load and swap path), and SIGTERM at the end
    (the graceful shutdown and the exposure writer's last segment).

Every function of the binary that ran is written, ordered by the instructions it ran itself
(callgrind's self cost), so the hottest share pages and cache lines. A function the run did not
reach (another store's error path, say) is placed as the linker would anyway: the order file only
moves what it names, and a stale name is ignored (--no-warn-symbol-ordering), so an old order file
costs memory, never correctness.

    ops/deploy/order-file.py [--allot BINARY] [--out FILE]
        BINARY: a static release build (default .build/static/release/allot, the deployed build;
                under valgrind 3.19 the dynamically linked builds crash in the shared libdispatch)
        FILE: where the order goes (default ops/deploy/allot.order)

Needs valgrind, moto_server (scripts/install-deps installs both). About two minutes.
"""

import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from processes import free_port, start_moto, stop, unblock_signals, wait_for_port  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(*args: str, env: dict | None = None) -> None:
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, env=env)


def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def wait_for_version(port: int, version: int, timeout: float = 120) -> None:
    """Until the server answers with bundle VERSION (taken from the S3 store)."""
    deadline = time.time() + timeout
    while True:
        status, body = request(port, "GET", "/v1/assign?user_id=order-file")
        if status == 200 and json.loads(body)["version"] == version:
            return
        if time.time() > deadline:
            raise SystemExit(f"order-file: the server did not take version {version} from the S3 store")
        time.sleep(0.5)


def expect(status: int, wanted: int, what: str) -> None:
    if status != wanted:
        raise SystemExit(f"order-file: {what} answered {status}, not {wanted}")


def traffic(port: int, rounds: int) -> None:
    """Every route, keep-alive, a random unit per request (seeded: the same requests every run)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    random.seed(rounds)
    expected_failures = 0

    def send(method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> int:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        response.read()
        return response.status

    for _ in range(rounds):
        user = f"u{random.randrange(10**9)}"
        expect(send("GET", f"/v1/assign?user_id={user}&country=US&app_version=5.3.0&platform=ios"), 200, "GET /v1/assign")
        expect(send("HEAD", f"/v1/assign?user_id={user}"), 200, "HEAD /v1/assign")
        json_type = {"Content-Type": "application/json"}
        document = json.dumps({"units": {"user_id": user}, "attributes": {"country": "DE", "platform": "android"}}).encode()
        expect(send("POST", "/v1/assign", document, json_type), 200, "POST /v1/assign")
        batch = json.dumps({"requests": [{"units": {"user_id": f"{user}-{i}"}, "attributes": {"country": "US"}} for i in range(4)]})
        expect(send("POST", "/v1/assign/batch", batch.encode(), json_type), 200, "POST /v1/assign/batch")
        context = json.dumps({"context": {"targetingKey": user, "country": "US"}}).encode()
        expect(send("POST", "/ofrep/v1/evaluate/flags", context, json_type), 200, "POST /ofrep/v1/evaluate/flags")
        expect(send("POST", "/ofrep/v1/evaluate/flags/button_color", context, json_type), 200, "POST /ofrep/v1/evaluate/flags/button_color")
        expected_failures += send("GET", "/nowhere") == 404
        expected_failures += send("GET", "/v1/assign?user_id=%ZZ") == 400
        expected_failures += send("DELETE", "/v1/assign?user_id=x") == 405
    for path in ("/healthz", "/readyz", "/metrics", "/v1/bundle"):
        expect(send("GET", path), 200, f"GET {path}")
    connection.close()
    if expected_failures != 3 * rounds:
        raise SystemExit(f"order-file: the server answered refused requests unexpectedly ({expected_failures} of {3 * rounds})")
    # A request line that is not HTTP: the engine's own refusal.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.connect()
    connection.sock.sendall(b"NOT A REQUEST\r\n\r\n")
    connection.sock.recv(4096)
    connection.close()


def self_costs(callgrind_out: str, binary_path: str) -> dict[str, int]:
    """Self instruction counts of the functions of BINARY in a callgrind file written with
    --compress-strings=no --compress-pos=no (a cost line after `calls=` is the callee's inclusive
    cost, not the caller's own)."""
    costs: dict[str, int] = {}
    object_name = None
    function = None
    after_call = False
    binary_name = os.path.basename(binary_path)
    with open(callgrind_out, errors="replace") as file:
        for line in file:
            if line.startswith("ob="):
                object_name = line[3:].strip()
            elif line.startswith("fn="):
                function = line[3:].strip() if object_name and os.path.basename(object_name) == binary_name else None
                # Only symbols: not an address without one, nor "(below main)"; and a recursion
                # level's suffix ('2), which --separate-recs=1 should already leave out, counts
                # toward the function itself.
                if function is not None:
                    function = re.sub(r"'\d+$", "", function)
                    if function.startswith(("0x", "(")):
                        function = None
                if function is not None:
                    costs.setdefault(function, 0)
            elif line.startswith("calls="):
                after_call = True
            elif line[:1].isdigit() or line[:1] in "+-*":
                if after_call:
                    after_call = False
                elif function is not None:
                    fields = line.split()
                    if len(fields) >= 2:
                        costs[function] += int(fields[1])
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--allot", default=os.path.join(ROOT, ".build/static/release/allot"))
    parser.add_argument("--out", default=os.path.join(ROOT, "ops/deploy/allot.order"))
    arguments = parser.parse_args()
    for tool in ("valgrind", "strip"):
        if not shutil.which(tool):
            raise SystemExit(f"order-file: {tool} not found (scripts/install-deps)")
    if not os.access(arguments.allot, os.X_OK):
        raise SystemExit(f"order-file: no executable at {arguments.allot} (ops/deploy/build.sh builds it)")

    work = tempfile.mkdtemp(prefix="allot-order-file.")
    moto = server = None
    succeeded = False
    try:
        allot = os.path.join(work, "allot")
        run("strip", "--strip-debug", "-o", allot, arguments.allot)
        run(allot, "keygen", "--out", os.path.join(work, "keys"))
        signing_key = os.path.join(work, "keys", "signing.key")

        def compile_and_publish(version: int, stores: list[str], env: dict) -> None:
            bundle = os.path.join(work, f"v{version}.bundle")
            run(allot, "compile", "--experiments", os.path.join(ROOT, "experiments"), "--signing-key", signing_key,
                "--version", str(version), "--output", bundle)
            for store in stores:
                run(allot, "publish", bundle, "--store", store, "--signing-key", signing_key, env=env)

        moto, moto_endpoint = start_moto("allot-order", log=open(os.path.join(work, "moto.log"), "w"))
        env = dict(os.environ, AWS_ACCESS_KEY_ID="order-file", AWS_SECRET_ACCESS_KEY="order-file")
        s3 = f"s3://allot-order/prod?endpoint={moto_endpoint}&region=us-east-1"
        folder = os.path.join(work, "store")
        compile_and_publish(1, [s3, folder], env)

        port = free_port()
        callgrind_out = os.path.join(work, "callgrind.out")
        server_log = open(os.path.join(work, "serve.log"), "w")
        server = subprocess.Popen(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={callgrind_out}", "--compress-strings=no",
             "--compress-pos=no", "--demangle=no", "--separate-recs=1", allot, "serve", "--store", s3, "--fallback-store", folder,
             "--trusted-key", os.path.join(work, "keys", "signing.pub"), "--cache-dir", os.path.join(work, "cache"),
             "--exposure-store", os.path.join(work, "exposures"), "--region", "local", "--listen", f"127.0.0.1:{port}", "--threads", "1",
             "--poll-interval", "1", "--log-level", "warning"],
            stdout=server_log, stderr=server_log, stdin=subprocess.DEVNULL, env=env, preexec_fn=unblock_signals)
        try:
            wait_for_port(port, server, timeout=120)
        except RuntimeError as error:
            server_log.flush()
            raise SystemExit(f"order-file: the server did not start ({error}):\n" + open(server_log.name).read()[-2000:])
        wait_for_version(port, 1)
        traffic(port, 300)
        compile_and_publish(2, [s3], env)
        wait_for_version(port, 2)
        traffic(port, 300)
        server.send_signal(signal.SIGTERM)
        if server.wait(timeout=120) != 0:
            raise SystemExit(f"order-file: the server exited with {server.returncode}")

        costs = self_costs(callgrind_out, allot)
        if len(costs) < 1000:
            raise SystemExit(f"order-file: only {len(costs)} functions of the binary ran: not a serving run")
        ordered = sorted(costs, key=lambda name: (-costs[name], name))
        with open(arguments.out, "w") as file:
            file.write("\n".join(ordered) + "\n")
        print(f"order-file: {len(ordered)} functions ({sum(costs.values()):,} instructions of the binary's own) -> {arguments.out}")
        succeeded = True
    finally:
        stop(server)
        stop(moto)
        if succeeded:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"order-file: failed; its files (serve.log, moto.log, callgrind.out) are kept in {work}", file=sys.stderr)


if __name__ == "__main__":
    main()
