#!/usr/bin/env python3
"""The multi-region drill: Allot's geo-distribution and failure behaviour, measured.

Simulates three regions on one machine: one S3-compatible store (moto) per region, several
`allot serve` per region polling their own region's store first and the other regions as
fallbacks, with inter-region latency added by `latency_proxy.py` (the kernel has no netem). A
checking client keeps a small constant load on every server for the whole drill and compares every
answer, byte for byte, with what `allot assign` says for the version the answer names. Then:

  propagation   publish N versions; time until every server answers with each
  region-down   one region's store refusing, then hanging: its servers fail over, publishes
                still reach them through the fallbacks; then the region is repaired
  all-down      every store hanging: everyone keeps serving; a server restarted meanwhile
                serves its cached bundle (time to ready); a server with an empty cache waits
  tampering     tampered, wrongly signed, older, truncated, oversized and conflicting bundles or
                manifests planted in every store: refused everywhere with the right reason
                (metric and JSON log), the old version keeps serving
  soak          wrk against every server with a bundle published every few seconds: zero
                failed requests, every version reached, resident memory sampled
  exposures     (at the end) every server writes an exposure log shipped to its region's
                exposure bucket, through the same outages; after a SIGTERM to every server,
                every answer the checking client received is in the shipped log exactly once

Prints a report and writes results.json (every number, every check). Exit status 0 when every
check passed, 1 when one failed, 2 when the drill itself could not run.

    ops/drill/drill.py --allot .build/release/allot               # the full drill (ops/drill/run.sh)
    ops/drill/drill.py --profile ci --allot .build/debug/allot    # the short one the tests run
"""

import argparse
import asyncio
import ctypes
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPOSITORY = os.path.dirname(os.path.dirname(HERE))

REGIONS = ["eu-west-1", "us-east-1", "ap-southeast-2"]
# One-way latency between regions, in milliseconds (round trip is twice this), roughly the
# public-cloud figures for Ireland, Virginia and Sydney. Within a region: LOCAL_MS.
ONE_WAY_MS = {
    frozenset(["eu-west-1", "us-east-1"]): 40,
    frozenset(["us-east-1", "ap-southeast-2"]): 100,
    frozenset(["eu-west-1", "ap-southeast-2"]): 150,
}
LOCAL_MS = 1
# CI (the publisher) runs in this region.
PUBLISHER_REGION = "us-east-1"
# What operators query: checked against what the servers export at the end of the drill.
OPERATIONS_FILES = ["ops/prometheus/allot-alerts.yml", "ops/prometheus/allot-exposure-alerts.yml", "ops/grafana/allot-dashboard.json"]

PROFILES = {
    # The recorded drill: docs/drill.md.
    "full": {
        "servers_per_region": 2,
        "publishes": 10,
        "all_down_hold": 20.0,
        "restarts": 3,
        "soak_seconds": 90.0,
        "swap_every": 3.0,
        "wrk_connections_per_server": 4,
        "checker_rate": 20.0,
        "rss_every": 2.0,
        "oversized_mib": 64,
    },
    # What Tests/AllotDrillTests runs: the same invariants, fewer servers and a short soak.
    "ci": {
        "servers_per_region": 1,
        "publishes": 3,
        "all_down_hold": 6.0,
        "restarts": 1,
        "soak_seconds": 15.0,
        "swap_every": 2.0,
        "wrk_connections_per_server": 2,
        "checker_rate": 20.0,
        "rss_every": 1.0,
        "oversized_mib": 1,
    },
}

POLL_INTERVAL = 1.0  # --poll-interval of every server (jittered ±20 %)
FALLBACK_POLL_INTERVAL = 2.0  # --fallback-poll-interval: the fallbacks are polled this often while the primary answers
MAX_BACKOFF = 4.0  # --max-backoff
STORE_ATTEMPTS = 2  # --store-attempts
STORE_TIMEOUT = 2.0  # --store-timeout (URLSession: whole seconds of no progress)
PUBLISH_ATTEMPTS = 2  # allot publish --attempts
PUBLISH_TIMEOUT = 2.0  # allot publish --timeout

AWS_ENV = {"AWS_ACCESS_KEY_ID": "AKIADRILLDRILLDRILL", "AWS_SECRET_ACCESS_KEY": "drill-secret"}
# moto does not check signatures, but turns anonymous requests away after a few: the drill's own
# direct requests (creating buckets, planting objects) carry this header.
MOTO_AUTH = {"Authorization": "AWS4-HMAC-SHA256 Credential=AKIADRILLDRILLDRILL/20260101/us-east-1/s3/aws4_request, "
                              "SignedHeaders=host, Signature=0"}


def one_way_ms(a, b):
    return LOCAL_MS if a == b else ONE_WAY_MS[frozenset([a, b])]


def percentile(values, fraction):
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, int(round(fraction * len(ordered) + 0.5)) - 1))
    return ordered[index]


def ms(seconds):
    return None if seconds is None else round(seconds * 1000, 1)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def die_with_parent():
    """preexec_fn: the child gets SIGKILL when the drill dies, so nothing outlives it."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class DrillError(Exception):
    """The drill could not run (not a failed check)."""


# ---------------------------------------------------------------------------------------------
# Processes


class Child:
    """A process the drill started, with its output in a log file."""

    def __init__(self, name, argv, log_path, env=None):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            argv, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=dict(os.environ, **(env or {})), preexec_fn=die_with_parent)

    @property
    def pid(self):
        return self.process.pid

    def running(self):
        return self.process.poll() is None

    def status_kib(self, field):
        """A size field of /proc/PID/status (`VmRSS`, `VmHWM`) in KiB, or None once the process is gone."""
        try:
            with open("/proc/%d/status" % self.pid) as handle:
                for line in handle:
                    if line.startswith(field + ":"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def rss_kib(self):
        return self.status_kib("VmRSS")

    def peak_rss_kib(self):
        """VmHWM: the most resident memory the process has had."""
        return self.status_kib("VmHWM")

    def open_fds(self):
        try:
            return len(os.listdir("/proc/%d/fd" % self.pid))
        except OSError:
            return None

    def stop(self, sig=signal.SIGTERM, timeout=30.0):
        """Signals the process and waits; SIGKILL after `timeout`. Returns the exit status."""
        if self.running():
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        return self.process.returncode

    def tail(self, lines=20):
        try:
            with open(self.log_path, errors="replace") as handle:
                return "".join(handle.readlines()[-lines:])
        except OSError:
            return ""


async def run(argv, env=None, check=True):
    """Runs a command to completion without blocking the event loop; returns (status, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL,
        env=dict(os.environ, **(env or {})), preexec_fn=die_with_parent)
    out, err = await process.communicate()
    if check and process.returncode != 0:
        raise DrillError("%s exited with %d:\n%s%s" % (" ".join(argv[:3]), process.returncode, out.decode(errors="replace"),
                                                      err.decode(errors="replace")))
    return process.returncode, out.decode(errors="replace"), err.decode(errors="replace")


async def wait_listening(port, child, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            if not child.running():
                raise DrillError("%s exited (%s) before listening on %d:\n%s" % (child.name, child.process.returncode, port,
                                                                                 child.tail()))
            await asyncio.sleep(0.02)
    raise DrillError("%s did not listen on %d within %.0f s:\n%s" % (child.name, port, timeout, child.tail()))


# ---------------------------------------------------------------------------------------------
# HTTP


class HTTPError(Exception):
    pass


class Connection:
    """A minimal HTTP/1.1 keep-alive client for loopback servers."""

    def __init__(self, port):
        self.port = port
        self.reader = None
        self.writer = None

    async def get(self, path, timeout=10.0, headers=None):
        return await asyncio.wait_for(self._get(path, headers or {}), timeout)

    async def _get(self, path, headers):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        extra = "".join("%s: %s\r\n" % item for item in headers.items())
        self.writer.write(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n" % (path, self.port, extra)).encode())
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise HTTPError("bad status line %r" % lines[0])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return int(parts[1]), headers, body

    def close(self):
        if self.writer is not None:
            self.writer.transport.abort()
        self.reader = self.writer = None


def as_text(body):
    return body.decode(errors="replace") if isinstance(body, bytes) else str(body)


async def http_get(port, path, timeout=10.0):
    """One request on a fresh connection: (status, body), or (None, error text)."""
    connection = Connection(port)
    try:
        status, _, body = await connection.get(path, timeout)
        return status, body
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, HTTPError) as error:
        return None, "%s: %s" % (type(error).__name__, error)
    finally:
        connection.close()


def parse_metrics(text):
    """Prometheus text → [(name, {labels}, value)]."""
    samples = []
    pattern = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
    label = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = pattern.match(line)
        if match:
            samples.append((match.group(1), dict(label.findall(match.group(2) or "")), float(match.group(3))))
    return samples


def store_region(label):
    """The region of a store label (the store's canonical URL names the bucket allot-<region>)."""
    for region in REGIONS:
        if "allot-%s/" % region in label:
            return region
    return label


# ---------------------------------------------------------------------------------------------
# The simulated deployment


def json_log_records(path, offset=0):
    """The JSON records of a server's log from byte `offset` on (lines that are not JSON skipped)."""
    records = []
    with open(path, "rb") as handle:
        handle.seek(offset)
        for line in handle:
            try:
                records.append(json.loads(line))
            except ValueError:
                pass
    return records


class Server:
    def __init__(self, drill, region, index):
        self.drill = drill
        self.region = region
        self.name = "%s/%s" % (region, "abcdefgh"[index])
        self.port = free_port()
        self.cache_dir = os.path.join(drill.workdir, "cache", self.name.replace("/", "-"))
        self.log_path = os.path.join(drill.workdir, "logs", "serve-%s.log" % self.name.replace("/", "-"))
        self.child = None
        self.restarts = 0
        self.extra = []

    def argv(self):
        drill = self.drill
        fallbacks = sorted((r for r in REGIONS if r != self.region), key=lambda r: one_way_ms(self.region, r))
        argv = [drill.allot, "serve", "--store", drill.store_url(self.region, self.region)]
        for region in fallbacks:
            argv += ["--fallback-store", drill.store_url(self.region, region)]
        argv += [
            "--trusted-key", drill.trusted_pub, "--listen", "127.0.0.1:%d" % self.port, "--cache-dir", self.cache_dir,
            "--poll-interval", str(POLL_INTERVAL), "--max-backoff", str(MAX_BACKOFF),
            "--fallback-poll-interval", str(FALLBACK_POLL_INTERVAL),
            "--store-attempts", str(STORE_ATTEMPTS), "--store-timeout", str(STORE_TIMEOUT),
            "--threads", "1", "--log-format", "json", "--shutdown-grace", "5",
            # The exposure log, shipped to the region's exposure bucket through the same routes.
            "--exposure-spool", os.path.join(drill.workdir, "spool", self.name.replace("/", "-")),
            "--exposure-store", drill.store_url(self.region, self.region, bucket="allot-exposures-" + self.region),
            "--region", self.region, "--server-id", self.name.replace("/", "-"),
            "--exposure-segment-age", "2", "--exposure-ship-grace", "3",
            # The default writer (nice 19) yields to requests and drops events when the CPU is
            # saturated, as the soak's unthrottled wrk makes it; the drill checks that nothing is
            # lost through outages, so its writers take their share of the CPU and must drop nothing.
            "--exposure-writer-nice", "0",
        ] + self.extra
        return argv

    def start(self):
        os.makedirs(self.cache_dir, exist_ok=True)
        self.child = Child("serve " + self.name, self.argv(), self.log_path, env=AWS_ENV)
        return self.child

    async def metrics(self):
        status, body = await http_get(self.port, "/metrics")
        if status != 200:
            raise DrillError("%s: /metrics answered %s %r" % (self.name, status, body))
        return parse_metrics(body.decode())

    async def version(self):
        """The version /readyz reports, or None when not ready or unreachable."""
        status, body = await http_get(self.port, "/readyz", timeout=5.0)
        if status != 200:
            return None
        match = re.search(rb'"version":(\d+)', body)
        return int(match.group(1)) if match else None

    def log_offset(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def log_records(self, offset=0):
        return json_log_records(self.log_path, offset)


def counter(samples, name, **labels):
    total = 0.0
    for sample_name, sample_labels, value in samples:
        if sample_name == name and all(sample_labels.get(k) == v for k, v in labels.items()):
            total += value
    return total


def counter_by_store(samples, name, **labels):
    """{region: value} of a counter with a `store` label."""
    result = {}
    for sample_name, sample_labels, value in samples:
        if sample_name == name and all(sample_labels.get(k) == v for k, v in labels.items()):
            region = store_region(sample_labels.get("store", ""))
            result[region] = result.get(region, 0.0) + value
    return result


# ---------------------------------------------------------------------------------------------
# The checking client


class Checker:
    """A constant load on every server; each answer is checked against `allot assign`.

    Every answer must be a 200 whose body equals, byte for byte, the offline answer for the same
    request and the version the answer names; and a server's versions must never go backwards.
    """

    def __init__(self, drill, rate):
        self.drill = drill
        self.rate = rate
        self.state = {}
        self.stopped = False
        self.tasks = []
        # (server, request index, version) -> answers received: what the exposure log must hold.
        self.received = {}
        # Requests sent whose answer never arrived (a timeout, a reset): the server may have
        # answered, and logged, them.
        self.unanswered = 0

    def start(self, servers):
        for server in servers:
            self.state[server.name] = {
                "requests": 0, "ok": 0, "failures": [], "failure_count": 0, "last_version": 0, "versions": set(),
                "paused": False, "connection": None,
            }
            self.tasks.append(asyncio.create_task(self.loop(server)))

    def fail(self, state, server, kind, detail):
        state["failure_count"] += 1
        if len(state["failures"]) < 10:
            state["failures"].append({"server": server.name, "kind": kind, "detail": detail[:300],
                                      "at_s": round(time.monotonic() - self.drill.t0, 3)})

    async def loop(self, server):
        state = self.state[server.name]
        requests = self.drill.requests
        index = random.randrange(len(requests))
        interval = 1.0 / self.rate
        next_at = time.monotonic()
        while not self.stopped:
            if state["paused"]:
                if state["connection"] is not None:
                    state["connection"].close()
                    state["connection"] = None
                await asyncio.sleep(0.02)
                next_at = time.monotonic()
                continue
            if state["connection"] is None:
                state["connection"] = Connection(server.port)
            index = (index + 1) % len(requests)
            query, _ = requests[index]
            state["requests"] += 1
            try:
                status, _, body = await state["connection"].get("/v1/assign?" + query)
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, HTTPError) as error:
                self.unanswered += 1
                if not state["paused"]:
                    self.fail(state, server, "transport", "%s: %s" % (type(error).__name__, error))
                state["connection"].close()
                state["connection"] = None
            else:
                self.check(server, state, index, status, body)
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                next_at = time.monotonic()

    def check(self, server, state, index, status, body):
        if status != 200:
            return self.fail(state, server, "status", "%d %s" % (status, body[:200].decode(errors="replace")))
        match = re.match(rb'\{"version":(\d+)', body)
        if not match:
            return self.fail(state, server, "body", body[:200].decode(errors="replace"))
        version = int(match.group(1))
        expected = self.drill.expected.get(version)
        if expected is None:
            return self.fail(state, server, "unknown_version", "version %d was never published" % version)
        if body != expected[index]:
            return self.fail(state, server, "wrong_answer", "v%d %s: got %s, allot assign says %s" % (
                version, self.drill.requests[index][0], body[:160], expected[index][:160]))
        if version < state["last_version"]:
            return self.fail(state, server, "went_back", "v%d after v%d" % (version, state["last_version"]))
        state["last_version"] = version
        state["versions"].add(version)
        state["ok"] += 1
        key = (server.name.replace("/", "-"), index, version)
        self.received[key] = self.received.get(key, 0) + 1

    def pause(self, server):
        self.state[server.name]["paused"] = True

    def resume(self, server):
        self.state[server.name]["paused"] = False

    def totals(self):
        requests = sum(s["requests"] for s in self.state.values())
        ok = sum(s["ok"] for s in self.state.values())
        failures = sum(s["failure_count"] for s in self.state.values())
        examples = [f for s in self.state.values() for f in s["failures"]][:10]
        return {"requests": requests, "ok": ok, "failed": failures, "examples": examples}

    async def stop(self):
        self.stopped = True
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for state in self.state.values():
            if state["connection"] is not None:
                state["connection"].close()


# ---------------------------------------------------------------------------------------------
# The drill


class Drill:
    def __init__(self, args):
        self.args = args
        self.profile = dict(PROFILES[args.profile])
        for key in ("servers_per_region", "publishes", "soak_seconds", "swap_every"):
            value = getattr(args, key)
            if value is not None:
                self.profile[key] = value
        self.allot = os.path.abspath(args.allot)
        self.workdir = os.path.abspath(args.workdir) if args.workdir else tempfile.mkdtemp(prefix="allot-drill-")
        for sub in ("logs", "cache", "bundles", "stage", "keys"):
            os.makedirs(os.path.join(self.workdir, sub), exist_ok=True)
        self.t0 = time.monotonic()
        self.children = []
        self.servers = []
        self.motos = {}
        self.proxy = None
        self.routes = {}
        self.control_port = None
        self.version = 0
        self.bundles = {}
        self.expected = {}
        self.requests = []
        self.checks = []
        self.results = {"profile": args.profile, "settings": {}, "machine": {}, "phases": {}, "checks": self.checks}
        self.checker = None

    # -- output

    def say(self, text=""):
        print(text, flush=True)

    def check(self, name, ok, detail=""):
        self.checks.append({"name": name, "ok": bool(ok), "detail": detail})
        self.say("  [%s] %s%s" % ("ok" if ok else "FAILED", name, (": " + detail) if detail else ""))
        return ok

    # -- setup

    def machine_state(self):
        def first_line(argv):
            try:
                return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip().splitlines()[0]
            except (OSError, IndexError, subprocess.SubprocessError):
                return None

        try:
            with open("/proc/meminfo") as handle:
                meminfo = {line.split(":")[0]: line.split()[1] for line in handle}
        except OSError:
            meminfo = {}
        return {
            "time_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
            "cpus": os.cpu_count(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "mem_total_mib": int(meminfo.get("MemTotal", 0)) // 1024,
            "mem_available_mib": int(meminfo.get("MemAvailable", 0)) // 1024,
            "kernel": platform.release(),
            "python": platform.python_version(),
            "allot": self.allot,
            "allot_build": "release" if "/release/" in self.allot else ("debug" if "/debug/" in self.allot else "unknown"),
            "git_commit": first_line(["git", "-C", REPOSITORY, "rev-parse", "--short", "HEAD"]),
            "git_dirty": bool(subprocess.run(["git", "-C", REPOSITORY, "status", "--porcelain", "--untracked-files=no"],
                                             capture_output=True, text=True).stdout.strip()),
            "swift": first_line(["swift", "--version"]),
            "moto": first_line([sys.executable, "-c", "import moto; print(moto.__version__)"]),
            "wrk": first_line(["wrk", "--version"]) if shutil.which("wrk") else None,
        }

    def moto_server(self):
        if os.environ.get("ALLOT_MOTO_SERVER"):
            return os.environ["ALLOT_MOTO_SERVER"]
        candidate = os.path.join(os.path.dirname(os.path.realpath(sys.executable)), "moto_server")
        if os.access(candidate, os.X_OK):
            return candidate
        found = shutil.which("moto_server")
        if not found:
            raise DrillError("moto_server not found: pip install 'moto[server]' (or set ALLOT_MOTO_SERVER)")
        return found

    def store_url(self, client_region, store_region_name, bucket=None):
        """How a client in `client_region` reaches `store_region_name`'s store: through the proxy's route."""
        port = self.routes["%s>%s" % (client_region, store_region_name)]
        bucket = bucket or "allot-" + store_region_name
        return "s3://%s/prod?endpoint=http://127.0.0.1:%d&region=%s" % (bucket, port, store_region_name)

    def direct_url(self, region, key=""):
        """The store's object URL on moto itself, without the proxy (what an attacker with write access uses)."""
        return "http://127.0.0.1:%d/allot-%s/prod/%s" % (self.motos[region][1], region, key)

    def publisher_stores(self):
        return [self.store_url(PUBLISHER_REGION, region) for region in REGIONS]

    async def start_stores(self):
        moto = self.moto_server()
        for region in REGIONS:
            port = free_port()
            child = Child("moto " + region, [moto, "-H", "127.0.0.1", "-p", str(port)],
                          os.path.join(self.workdir, "logs", "moto-%s.log" % region))
            self.children.append(child)
            self.motos[region] = (child, port)
        for region in REGIONS:
            child, port = self.motos[region]
            await wait_listening(port, child)
            for bucket in ("allot-" + region, "allot-exposures-" + region):
                request = urllib.request.Request("http://127.0.0.1:%d/%s" % (port, bucket), method="PUT", data=b"",
                                                 headers=MOTO_AUTH)
                await asyncio.to_thread(urllib.request.urlopen, request, timeout=30)

    async def start_proxy(self):
        routes = []
        for client in REGIONS:
            for region in REGIONS:
                routes.append({"name": "%s>%s" % (client, region), "listen": 0, "upstream": self.motos[region][1],
                               "delay_ms": one_way_ms(client, region)})
        config_path = os.path.join(self.workdir, "proxy.json")
        with open(config_path, "w") as handle:
            json.dump({"control_port": 0, "routes": routes}, handle)
        log_path = os.path.join(self.workdir, "logs", "latency-proxy.log")
        process = await asyncio.create_subprocess_exec(
            sys.executable, os.path.join(HERE, "latency_proxy.py"), config_path, stdout=asyncio.subprocess.PIPE,
            stderr=open(log_path, "ab"), preexec_fn=die_with_parent)
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        if not line:
            raise DrillError("the latency proxy did not start: see %s" % log_path)
        ready = json.loads(line)
        self.proxy = process
        self.routes = ready["routes"]
        self.control_port = ready["control_port"]

    async def proxy_command(self, line):
        reader, writer = await asyncio.open_connection("127.0.0.1", self.control_port)
        writer.write((line + "\n").encode())
        await writer.drain()
        answer = json.loads(await reader.readline())
        writer.close()
        if not answer.get("ok"):
            raise DrillError("latency proxy: %s → %s" % (line, answer))
        return answer

    async def measure_routes(self):
        """A small GET through each route and straight to moto, the median of five each: the
        latency the proxy adds, measured. moto closes every connection (`Connection: close`),
        so each request through a route pays the emulated handshake too: two round trips."""

        async def median_get(port, region):
            samples = []
            for _ in range(5):
                connection = Connection(port)
                try:
                    start = time.monotonic()
                    await connection.get("/allot-%s/prod/manifest.json" % region, headers=MOTO_AUTH)
                    samples.append(time.monotonic() - start)
                finally:
                    connection.close()
            return statistics.median(samples)

        direct = {region: await median_get(self.motos[region][1], region) for region in REGIONS}
        measured = {}
        for client in REGIONS:
            for region in REGIONS:
                through = await median_get(self.routes["%s>%s" % (client, region)], region)
                measured["%s>%s" % (client, region)] = {
                    "one_way_ms": one_way_ms(client, region), "get_ms": ms(through), "direct_get_ms": ms(direct[region]),
                    "added_ms": ms(through - direct[region]),
                }
        return measured

    async def make_keys(self):
        keys = os.path.join(self.workdir, "keys")
        await run([self.allot, "keygen", "--out", keys, "--name", "trusted", "--force"])
        await run([self.allot, "keygen", "--out", keys, "--name", "rogue", "--force"])
        self.trusted_key = os.path.join(keys, "trusted.key")
        self.trusted_pub = os.path.join(keys, "trusted.pub")
        self.rogue_key = os.path.join(keys, "rogue.key")

    def make_requests(self):
        """The requests the checker sends: (query string, batch line), with users in every branch."""
        countries = ["US", "CA", "GB", "DE", "JP", "BR"]
        versions = ["5.1.0", "5.2.0", "5.3.1", "6.0.0"]
        users = ["qa-user-1"] + ["drill-user-%d" % i for i in range(47)]
        for i, user in enumerate(users):
            country = countries[i % len(countries)]
            app_version = versions[(i // 2) % len(versions)]
            employee = "true" if i % 7 == 3 else "false"
            platform_name = ["ios", "android", "web"][i % 3]
            query = "user_id=%s&device_id=device-%d&country=%s&app_version=%s&is_employee=%s&platform=%s" % (
                user, i, country, app_version, employee, platform_name)
            line = json.dumps({"units": {"user_id": user, "device_id": "device-%d" % i},
                               "attributes": {"country": country, "app_version": app_version,
                                              "is_employee": employee == "true", "platform": platform_name}})
            self.requests.append((query, line))
        with open(os.path.join(self.workdir, "requests.ndjson"), "w") as handle:
            handle.write("".join(line + "\n" for _, line in self.requests))

    async def compile(self, version, signing_key=None, marker=None, name=None):
        """Compiles experiments/ as version `version`; the green button's colour names the version
        (`marker`), so answers differ from one version to the next."""
        source = os.path.join(self.workdir, "experiments")
        if not os.path.isdir(source):
            shutil.copytree(os.path.join(REPOSITORY, "experiments"), source)
            with open(os.path.join(source, "layers", "checkout.yaml")) as handle:
                self.checkout_yaml = handle.read()
            if "params: { button_color: green }" not in self.checkout_yaml:
                raise DrillError("experiments/layers/checkout.yaml no longer has the green button the drill varies")
        with open(os.path.join(source, "layers", "checkout.yaml"), "w") as handle:
            handle.write(self.checkout_yaml.replace(
                "params: { button_color: green }", "params: { button_color: green-%s }" % (marker or "v%d" % version)))
        output = os.path.join(self.workdir, "bundles", name or "v%d.bundle" % version)
        await run([self.allot, "compile", "--experiments", source, "--output", output, "--version", str(version),
                   "--created-at", str(self.created_at), "--signing-key", signing_key or self.trusted_key])
        return output

    async def prepare_versions(self, count):
        """Compiles versions 1...count and the offline answer to every checker request for each."""
        batch = os.path.join(self.workdir, "requests.ndjson")
        for version in range(1, count + 1):
            path = await self.compile(version)
            _, out, _ = await run([self.allot, "assign", "--bundle", path, "--trusted-key", self.trusted_pub,
                                   "--batch", batch, "--json"])
            answers = [line.encode() for line in out.splitlines() if line]
            if len(answers) != len(self.requests):
                raise DrillError("allot assign --batch gave %d answers for %d requests" % (len(answers), len(self.requests)))
            self.bundles[version] = path
            self.expected[version] = answers

    async def publish(self, version, path=None, stores=None, key=None):
        """allot publish to every region (from the publisher's region); returns (status, seconds, report)."""
        argv = [self.allot, "publish", path or self.bundles[version], "--signing-key", key or self.trusted_key, "--json",
                "--attempts", str(PUBLISH_ATTEMPTS), "--timeout", str(PUBLISH_TIMEOUT)]
        for store in stores or self.publisher_stores():
            argv += ["--store", store]
        start = time.monotonic()
        status, out, err = await run(argv, env=AWS_ENV, check=False)
        elapsed = time.monotonic() - start
        try:
            report = json.loads(out)
        except ValueError:
            report = {"output": out, "error": err}
        return status, elapsed, report

    def region_outcomes(self, report):
        outcomes = {}
        for entry in (report.get("report") or {}).get("regions", []):
            outcomes[store_region(entry.get("store", ""))] = "%s/%s" % (entry.get("object"), entry.get("manifest"))
        return outcomes

    async def start_servers(self):
        for region in REGIONS:
            for index in range(self.profile["servers_per_region"]):
                server = Server(self, region, index)
                self.servers.append(server)
                server.start()
        for server in self.servers:
            await wait_listening(server.port, server.child)
        await self.wait_versions(self.version, self.servers, timeout=60)

    async def versions(self, servers=None):
        servers = servers or self.servers
        return dict(zip((s.name for s in servers), await asyncio.gather(*(s.version() for s in servers))))

    async def publish_next(self, timeout):
        """Publishes the next version and waits (up to `timeout` s) for every server to answer with
        it. Returns (version, {server: seconds after the publish started}, (status, elapsed, report))."""
        version = self.version + 1
        start = time.monotonic()
        publishing = asyncio.create_task(self.publish(version))
        seen = await self.wait_versions(version, self.servers, timeout=timeout, start=start)
        result = await publishing
        self.version = version
        return version, seen, result

    async def wait_versions(self, version, servers, timeout, start=None):
        """Waits until every server answers with `version` (or newer); returns {server: seconds from start}."""
        start = start or time.monotonic()
        seen = {}
        while len(seen) < len(servers):
            now = time.monotonic()
            for name, served in (await self.versions(servers)).items():
                if name not in seen and served is not None and served >= version:
                    seen[name] = time.monotonic() - start
            if now - start > timeout:
                break
            await asyncio.sleep(0.01)
        return seen

    async def all_metrics(self, servers=None):
        servers = servers or self.servers
        return dict(zip((s.name for s in servers), await asyncio.gather(*(s.metrics() for s in servers))))

    # -- phases

    async def phase_propagation(self):
        self.say("\n== propagation: %d publishes to 3 regions, %d servers ==" % (self.profile["publishes"], len(self.servers)))
        runs = []
        for _ in range(self.profile["publishes"]):
            # Start at a random point of the servers' poll cycles.
            await asyncio.sleep(random.uniform(0.5, 1.5))
            version, seen, (status, elapsed, report) = await self.publish_next(timeout=30)
            runs.append({"version": version, "publish_exit": status, "publish_s": round(elapsed, 3),
                         "servers_s": {k: round(v, 3) for k, v in seen.items()},
                         "all_servers_s": round(max(seen.values()), 3) if len(seen) == len(self.servers) else None})
            self.say("  v%d: publish %.0f ms (exit %d), every server %s ms after the publish started (first %s ms)" % (
                version, elapsed * 1000, status, ms(max(seen.values())) if seen else "-", ms(min(seen.values())) if seen else "-"))
        per_server = [t for r in runs for t in r["servers_s"].values()]
        alls = [r["all_servers_s"] for r in runs if r["all_servers_s"] is not None]
        summary = {
            "publishes": len(runs),
            "publish_ms": {"p50": ms(statistics.median(r["publish_s"] for r in runs)), "max": ms(max(r["publish_s"] for r in runs))},
            "per_server_ms": {"p50": ms(statistics.median(per_server)), "p90": ms(percentile(per_server, 0.9)),
                              "max": ms(max(per_server))},
            "every_server_ms": {"p50": ms(statistics.median(alls)) if alls else None, "max": ms(max(alls)) if alls else None},
        }
        self.results["phases"]["propagation"] = {"runs": runs, "summary": summary}
        self.check("propagation: every publish exited 0", all(r["publish_exit"] == 0 for r in runs))
        self.check("propagation: every server reached every version", len(alls) == len(runs),
                   "%d of %d publishes reached all servers" % (len(alls), len(runs)))
        self.say("  publish→every server: p50 %s ms, max %s ms; per server p50 %s ms, p90 %s ms, max %s ms" % (
            summary["every_server_ms"]["p50"], summary["every_server_ms"]["max"], summary["per_server_ms"]["p50"],
            summary["per_server_ms"]["p90"], summary["per_server_ms"]["max"]))

    async def phase_partial_publish(self):
        """A publish that reaches every region but the first (a partial publish): every server takes
        the new version anyway, the first region's servers from their fallbacks while their primary
        still answers with the old one; the lag is a gauge; a rerun catches the region up."""
        lagging = REGIONS[0]
        version = self.version + 1
        self.say("\n== partial publish: v%d to every region but %s ==" % (version, lagging))
        stores = [store for store in self.publisher_stores() if store_region(store) != lagging]
        start = time.monotonic()
        status, elapsed, report = await self.publish(version, stores=stores)
        seen = await self.wait_versions(version, self.servers, timeout=3 * FALLBACK_POLL_INTERVAL + 30, start=start)
        self.version = version
        local = [s for s in self.servers if s.region == lagging]
        lag = {name: counter_by_store(samples, "allot_store_lag_versions").get(lagging, 0.0)
               for name, samples in (await self.all_metrics(local)).items()}
        rerun, _, _ = await self.publish(version)
        local_s = [seen[s.name] for s in local if s.name in seen]
        self.results["phases"]["partial_publish"] = {
            "version": version, "publish_exit": status, "servers_s": {k: round(v, 3) for k, v in seen.items()},
            "lagging_region_servers_max_s": round(max(local_s), 3) if local_s else None, "lag_gauge": lag, "rerun_exit": rerun}
        self.say("  every server on v%d: %s; %s's servers (primary still at v%d) within %s ms; lag gauge %s; rerun exit %d" % (
            version, "yes" if len(seen) == len(self.servers) else "NO", lagging, version - 1,
            ms(max(local_s)) if local_s else "-", lag, rerun))
        self.check("partial publish: the publish to the other regions exited 0", status == 0,
                   "exit %d" % status if status == 0 else str(report)[:300])
        self.check("partial publish: every server took the new version, the lagging region's from its fallbacks",
                   len(seen) == len(self.servers), "%d of %d" % (len(seen), len(self.servers)))
        self.check("partial publish: the lagging store shows as allot_store_lag_versions >= 1",
                   bool(lag) and all(value >= 1 for value in lag.values()), str(lag))
        self.check("partial publish: the rerun caught the lagging region up (exit 0)", rerun == 0)

    async def phase_replayed_region(self):
        """An older, validly signed manifest replayed into one region's store, and a new server there
        with an empty cache and no state: it serves the newest version the other regions show, never
        the replayed one; the replay shows as lag; a publish repairs the region."""
        replayed = REGIONS[0]
        current = self.version
        self.say("\n== replayed region: v1's manifest put back into %s, a fresh server starts there ==" % replayed)
        await asyncio.to_thread(self.put, replayed, "manifest.json", self.first_manifest)
        fresh = Server(self, replayed, 6)  # index 7 is the cold server of the all-down phase
        fresh.name = replayed + "/fresh"
        fresh.start()
        await wait_listening(fresh.port, fresh.child)
        start = time.monotonic()
        served = None
        while time.monotonic() - start < 30:
            served = await fresh.version()
            if served is not None:
                break
            await asyncio.sleep(0.02)
        ready_s = time.monotonic() - start
        await asyncio.sleep(3 * POLL_INTERVAL)
        later = await fresh.version()
        lag = counter_by_store(await fresh.metrics(), "allot_store_lag_versions").get(replayed, 0.0)
        await asyncio.to_thread(fresh.child.stop, signal.SIGTERM)
        repair, _, _ = await self.publish(current)
        self.results["phases"]["replayed_region"] = {
            "current": current, "first_served": served, "served_after_polls": later, "ready_s": round(ready_s, 3),
            "lag_gauge": lag, "repair_exit": repair}
        self.say("  the fresh server first served v%s (%s ms after it listened), then v%s; lag of %s's store %s; repair exit %d" % (
            served, ms(ready_s), later, replayed, lag, repair))
        self.check("replayed region: a fresh server there serves the newest version, never the replayed one",
                   served == current and later == current, "first v%s, then v%s, newest v%d" % (served, later, current))
        self.check("replayed region: the replayed store shows as allot_store_lag_versions >= 1", lag >= 1, str(lag))
        self.check("replayed region: the next publish repairs the region (exit 0)", repair == 0)

    async def phase_frozen(self):
        """Every store frozen: the manifests are re-signed with a short expiry and then nothing is
        published or refreshed. After the expiry, the running servers keep serving the version they
        hold (availability) and count the expired manifests; a fresh server with an empty cache
        serves nothing (an expired manifest is never trusted), and with --max-staleness its
        readiness says why; a heartbeat (`allot publish --refresh`) brings it up."""
        region = REGIONS[1]
        current = self.version
        expiry = 6
        self.say("\n== frozen stores: manifests re-signed to expire in %d s, then no publish and no heartbeat ==" % expiry)
        argv = [self.allot, "publish", "--refresh", "--expires-in", "%ds" % expiry, "--signing-key", self.trusted_key, "--json",
                "--attempts", str(PUBLISH_ATTEMPTS), "--timeout", str(PUBLISH_TIMEOUT)]
        for store in self.publisher_stores():
            argv += ["--store", store]
        short, _, _ = await run(argv, env=AWS_ENV, check=False)
        await asyncio.sleep(expiry + 3 * POLL_INTERVAL + 1)
        running = await self.versions()
        expired = {name: sum(value for metric, labels, value in samples
                             if metric == "allot_bundle_verify_failures_total" and labels.get("reason") == "expired")
                   for name, samples in (await self.all_metrics(self.servers)).items()}
        fresh = Server(self, region, 6)
        fresh.name = region + "/frozen"
        fresh.extra = ["--max-staleness", "60"]
        fresh.start()
        await wait_listening(fresh.port, fresh.child)
        await asyncio.sleep(3 * POLL_INTERVAL + 1)
        fresh_before = await fresh.version()
        ready_status, ready_body = await http_get(fresh.port, "/readyz")
        start = time.monotonic()
        argv = [a for a in argv if a not in ("--expires-in", "%ds" % expiry)]
        heartbeat, _, _ = await run(argv, env=AWS_ENV, check=False)
        fresh_after = None
        while time.monotonic() - start < 30:
            fresh_after = await fresh.version()
            if fresh_after is not None:
                break
            await asyncio.sleep(0.05)
        up_s = time.monotonic() - start
        await asyncio.to_thread(fresh.child.stop, signal.SIGTERM)
        self.results["phases"]["frozen"] = {
            "short_refresh_exit": short, "running_versions": running, "expired_refusals": expired,
            "fresh_before_heartbeat": fresh_before, "fresh_readyz": [ready_status, as_text(ready_body)[:200]],
            "heartbeat_exit": heartbeat, "fresh_after_heartbeat": fresh_after, "fresh_up_s": round(up_s, 3)}
        self.say("  running servers after the expiry: %s; expired manifests refused: %s; a fresh server in %s: readyz %s %s, "
                 "then v%s %s ms after the heartbeat (exit %d)" % (
                     running, expired, region, ready_status, as_text(ready_body)[:80], fresh_after, ms(up_s), heartbeat))
        self.check("frozen: the short-expiry refresh exited 0", short == 0, "exit %d" % short)
        self.check("frozen: every running server kept serving v%d after its manifests expired" % current,
                   all(v == current for v in running.values()), str(running))
        self.check("frozen: every running server counted the expired manifests (allot_bundle_verify_failures_total{reason=expired})",
                   all(v > 0 for v in expired.values()), str(expired))
        self.check("frozen: a fresh server with an empty cache served nothing from expired manifests, and said so in /readyz",
                   fresh_before is None and ready_status == 503, "%s %s" % (ready_status, as_text(ready_body)[:200]))
        self.check("frozen: after a heartbeat (publish --refresh, exit 0) the fresh server served v%d" % current,
                   heartbeat == 0 and fresh_after == current, "exit %d, v%s" % (heartbeat, fresh_after))

    async def phase_region_down(self):
        region = REGIONS[0]
        local = [s for s in self.servers if s.region == region]
        self.say("\n== one region's store down: %s ==" % region)
        results = {}
        for mode in ("refuse", "blackhole", "drip"):
            before = await self.all_metrics(local)
            await self.proxy_command("mode *>%s %s" % (region, mode))
            await asyncio.sleep(3 * POLL_INTERVAL + (2 * STORE_TIMEOUT * STORE_ATTEMPTS if mode != "refuse" else 0))
            during = await self.all_metrics(local)
            version, seen, (status, elapsed, report) = await self.publish_next(timeout=60)
            after = await self.all_metrics(local)
            sources = {}
            for server in local:
                _, body = await http_get(server.port, "/v1/bundle")
                try:
                    sources[server.name] = store_region(json.loads(body)["source"])
                except (ValueError, KeyError, TypeError):
                    sources[server.name] = None
            failures = {name: counter_by_store(after[name], "allot_bundle_fetch_failures_total").get(region, 0)
                        - counter_by_store(before[name], "allot_bundle_fetch_failures_total").get(region, 0) for name in after}
            reasons = {}
            for name in after:
                for metric, labels, value in after[name]:
                    if metric == "allot_bundle_fetch_failures_total" and store_region(labels.get("store", "")) == region and value > 0:
                        reasons.setdefault(name, {})[labels.get("reason")] = int(value)
            fallback_answers = {name: sum(v for r, v in counter_by_store(during[name], "allot_bundle_polls_total").items()
                                          if r != region) for name in during}
            outcome = {
                "mode": mode,
                "publish_exit": status, "publish_s": round(elapsed, 3), "publish_regions": self.region_outcomes(report),
                "version": version, "servers_s": {k: round(v, 3) for k, v in seen.items()},
                "every_server_ms": ms(max(seen.values())) if len(seen) == len(self.servers) else None,
                "down_region_servers_ms": ms(max(seen[s.name] for s in local)) if all(s.name in seen for s in local) else None,
                "down_region_fetch_failures": failures, "fetch_failure_reasons": reasons, "down_region_sources": sources,
                "fallback_polls_before_publish": fallback_answers,
            }
            results[mode] = outcome
            self.say("  %s: publish exit %d in %.0f ms (%s); every server at v%d after %s ms, %s's servers after %s ms, served from %s" % (
                mode, status, elapsed * 1000, ", ".join("%s %s" % kv for kv in outcome["publish_regions"].items()),
                version, outcome["every_server_ms"], region, outcome["down_region_servers_ms"],
                ", ".join("%s" % v for v in sources.values())))
            self.check("region down (%s): every server, %s's included, reached the version published meanwhile" % (mode, region),
                       len(seen) == len(self.servers))
            self.check("region down (%s): %s's servers failed to read their store and took it from a fallback" % (mode, region),
                       all(v > 0 for v in failures.values()) and all(s not in (None, region) for s in sources.values()),
                       "fetch failures %s; sources %s" % (failures, sources))
            self.check("region down (%s): the publish reported the region as failed (exit 4), the others current" % mode,
                       status == 4, "exit %d" % status)
        # Repair: the store is back; rerunning the publish uploads and moves the lagging region.
        await self.proxy_command("mode *>%s pass" % region)
        status, elapsed, report = await self.publish(self.version)
        results["repair"] = {"publish_exit": status, "publish_s": round(elapsed, 3), "publish_regions": self.region_outcomes(report)}
        status_exit, status_out, _ = await run([self.allot, "status", "--trusted-key", self.trusted_pub, "--json"] +
                                               sum((["--store", s] for s in self.publisher_stores()), []), env=AWS_ENV, check=False)
        results["repair"]["status_exit"] = status_exit
        self.say("  repair: rerun publish exit %d (%s); allot status exit %d" % (
            status, ", ".join("%s %s" % kv for kv in results["repair"]["publish_regions"].items()), status_exit))
        self.check("region repaired: the rerun publish brought it current and allot status sees every region agree",
                   status == 0 and status_exit == 0)
        self.results["phases"]["region_down"] = results

    async def phase_all_down(self):
        self.say("\n== every store down (blackholed) for %.0f s ==" % self.profile["all_down_hold"])
        results = {}
        before = await self.all_metrics()
        checker_before = self.checker.totals()
        await self.proxy_command("mode * blackhole")
        down_at = time.monotonic()

        # A server restarted now serves its cached bundle.
        restarts = []
        targets = [s for s in self.servers][: self.profile["restarts"]]
        if self.profile["servers_per_region"] > 1:
            targets = [s for s in self.servers if s.name.endswith("/a")][: self.profile["restarts"]]
        await asyncio.sleep(1.0)
        for server in targets:
            self.checker.pause(server)
            stop_start = time.monotonic()
            exit_status = await asyncio.to_thread(server.child.stop, signal.SIGTERM)
            stopped_s = time.monotonic() - stop_start
            offset = server.log_offset()
            start = time.monotonic()
            server.start()
            server.restarts += 1
            ready = None
            while time.monotonic() - start < 30:
                status, body = await http_get(server.port, "/readyz", timeout=2)
                if status == 200:
                    ready = time.monotonic() - start
                    break
                await asyncio.sleep(0.005)
            _, body = await http_get(server.port, "/v1/bundle")
            try:
                info = json.loads(body)
            except ValueError:
                info = {}
            loaded = [r for r in server.log_records(offset) if r.get("msg") == "serving the cached bundle"]
            restarts.append({"server": server.name, "sigterm_exit": exit_status, "sigterm_to_exit_ms": ms(stopped_s),
                             "start_to_ready_ms": ms(ready), "version": info.get("version"), "source": info.get("source"),
                             "cache_log": bool(loaded)})
            self.checker.resume(server)
            self.say("  restart %s with every store down: SIGTERM → exit %s in %s ms; ready %s ms after exec, v%s from %s" % (
                server.name, exit_status, ms(stopped_s), ms(ready), info.get("version"), info.get("source")))
            self.check("restart with stores down: %s serves v%d from its cache" % (server.name, self.version),
                       ready is not None and info.get("version") == self.version and info.get("source") == "cache" and loaded
                       and exit_status == 0)
        results["restarts"] = restarts

        # A new server with an empty cache has nothing to serve: 503 until a store answers.
        cold = Server(self, REGIONS[0], 7)
        cold.name = REGIONS[0] + "/cold"
        cold.start()
        await wait_listening(cold.port, cold.child)
        await asyncio.sleep(1.5)
        cold_ready, cold_body = await http_get(cold.port, "/readyz")
        cold_assign, _ = await http_get(cold.port, "/v1/assign?user_id=u1")
        results["cold_start"] = {"readyz_while_down": cold_ready, "assign_while_down": cold_assign}
        self.check("empty cache with stores down: /readyz and /v1/assign answer 503 (nothing unverified is served)",
                   cold_ready == 503 and cold_assign == 503, "readyz %s, assign %s" % (cold_ready, cold_assign))

        remaining = self.profile["all_down_hold"] - (time.monotonic() - down_at)
        if remaining > 0:
            await asyncio.sleep(remaining)
        held = time.monotonic() - down_at
        during = await self.all_metrics()
        versions = await self.versions()
        checker_during = self.checker.totals()
        # Failed store reads while down, per server not restarted (a restart resets its counters):
        # with the backoff, a handful per store rather than one per poll interval.
        restarted = {r["server"] for r in restarts}
        polls_failed = {name: int(counter(during[name], "allot_bundle_polls_total", result="failed")
                                  - counter(before[name], "allot_bundle_polls_total", result="failed"))
                        for name in during if name not in restarted}
        served = checker_during["ok"] - checker_before["ok"]
        results.update({
            "held_s": round(held, 1), "versions": versions,
            "answers_during": served, "failed_during": checker_during["failed"] - checker_before["failed"],
            "failed_store_reads_per_server": polls_failed,
        })
        self.say("  held %.1f s: %d answers checked, %d failed; every server still at %s; failed store reads per server %s" % (
            held, served, results["failed_during"], sorted(set(versions.values())), sorted(set(polls_failed.values()))))
        self.check("all stores down: every server kept serving v%d, no failed request" % self.version,
                   all(v == self.version for v in versions.values()) and results["failed_during"] == 0 and served > 0)

        # Back: how long until every server polls successfully again, and the cold one is ready.
        await self.proxy_command("mode * pass")
        back = time.monotonic()
        cold_seen = asyncio.create_task(self.wait_versions(self.version, [cold], timeout=60, start=back))
        recovered = {}
        baseline = {name: sum(counter(during[name], "allot_bundle_polls_total", result=r) for r in ("not_modified", "current", "updated"))
                    for name in during}
        while len(recovered) < len(self.servers) and time.monotonic() - back < 60:
            now = await self.all_metrics()
            for name, samples in now.items():
                good = sum(counter(samples, "allot_bundle_polls_total", result=r) for r in ("not_modified", "current", "updated"))
                if name not in recovered and good > baseline[name]:
                    recovered[name] = time.monotonic() - back
            await asyncio.sleep(0.05)
        cold_times = await cold_seen
        cold.child.stop()
        results["recovery_ms"] = {"max": ms(max(recovered.values())) if recovered else None,
                                  "p50": ms(statistics.median(recovered.values())) if recovered else None}
        results["cold_start"]["ready_after_stores_back_ms"] = ms(cold_times.get(cold.name))
        self.say("  stores back: every server polled one successfully within %s ms (p50 %s ms; backoff capped at %.0f s); "
                 "the empty-cache server was ready after %s ms" % (results["recovery_ms"]["max"], results["recovery_ms"]["p50"],
                                                                    MAX_BACKOFF, results["cold_start"]["ready_after_stores_back_ms"]))
        self.check("stores back: every server polls successfully again, the empty-cache server becomes ready",
                   len(recovered) == len(self.servers) and cold.name in cold_times)
        version, seen, (status, elapsed, _) = await self.publish_next(timeout=30)
        results["publish_after_recovery"] = {"version": version, "publish_exit": status,
                                             "every_server_ms": ms(max(seen.values())) if len(seen) == len(self.servers) else None}
        self.check("stores back: the next publish reaches every server", status == 0 and len(seen) == len(self.servers),
                   "%s ms" % results["publish_after_recovery"]["every_server_ms"])
        self.results["phases"]["all_down"] = results

    async def stage(self, name, version, key, marker):
        """Compiles and publishes a bundle into a local folder; returns (manifest bytes, object key, object bytes)."""
        path = await self.compile(version, signing_key=key, marker=marker, name="%s.bundle" % name)
        folder = os.path.join(self.workdir, "stage", name)
        os.makedirs(folder, exist_ok=True)
        await run([self.allot, "publish", path, "--store", folder, "--signing-key", key])
        with open(os.path.join(folder, "manifest.json"), "rb") as handle:
            manifest = handle.read()
        object_key = json.loads(manifest)["object"]
        with open(os.path.join(folder, object_key), "rb") as handle:
            return manifest, object_key, handle.read()

    def put(self, region, key, body):
        request = urllib.request.Request(self.direct_url(region, key), method="PUT", data=body,
                                         headers=dict(MOTO_AUTH, **{"Content-Type": "application/octet-stream"}))
        urllib.request.urlopen(request, timeout=30).read()

    def get(self, region, key):
        request = urllib.request.Request(self.direct_url(region, key), headers=MOTO_AUTH)
        return urllib.request.urlopen(request, timeout=30).read()

    def delete(self, region, key):
        request = urllib.request.Request(self.direct_url(region, key), method="DELETE", headers=MOTO_AUTH)
        try:
            urllib.request.urlopen(request, timeout=30).read()
        except urllib.error.HTTPError:
            pass

    async def phase_tampering(self):
        self.say("\n== tampering: bad bundles and manifests planted in every store ==")
        if self.version < 2:
            # The "older version" case plants v1's manifest: something newer must be served.
            status, _, report = await self.publish(self.version + 1)
            if status != 0:
                raise DrillError("publish failed: %s" % report)
            self.version += 1
            await self.wait_versions(self.version, self.servers, timeout=30)
        good = {region: await asyncio.to_thread(self.get, region, "manifest.json") for region in REGIONS}
        current = self.version
        attack = 10_000
        cases = []

        manifest = json.loads(good[REGIONS[0]])
        forged = dict(manifest, version=current + 1)
        cases.append(("tampered manifest (version raised, signature kept)", "bad_signature",
                      {"manifest.json": json.dumps(forged, indent=2).encode() + b"\n"}))

        staged, key, body = await self.stage("tampered", attack + 1, self.trusted_key, "tampered")
        flipped = bytearray(body)
        flipped[len(flipped) // 2] ^= 0x01
        cases.append(("tampered bundle (one byte of a signed bundle flipped)", "hash_mismatch",
                      {"manifest.json": staged, key: bytes(flipped)}))

        staged, key, body = await self.stage("rogue", attack + 2, self.rogue_key, "rogue")
        cases.append(("wrongly signed (bundle and manifest signed by an untrusted key)", "untrusted_key",
                      {"manifest.json": staged, key: body}))

        cases.append(("older version (a genuine, signed manifest of v1)", "older_version",
                      {"manifest.json": self.first_manifest}))

        staged, key, body = await self.stage("truncated", attack + 3, self.trusted_key, "truncated")
        cases.append(("truncated bundle (a signed manifest, its bundle cut in half)", "size_mismatch",
                      {"manifest.json": staged, key: body[: len(body) // 2]}))

        cases.append(("truncated manifest (cut in half)", "malformed",
                      {"manifest.json": good[REGIONS[0]][: len(good[REGIONS[0]]) // 2]}))

        big = self.profile["oversized_mib"]
        oversized = good[REGIONS[0]].rstrip(b"\n") + b" " * (big << 20) + b"\n"
        cases.append(("oversized manifest (%d MiB, over the 64 KiB limit)" % big, "too_large", {"manifest.json": oversized}))

        staged, key, body = await self.stage("oversized", attack + 4, self.trusted_key, "oversized")
        cases.append(("oversized bundle (a signed manifest, %d MiB appended to its bundle)" % big, "size_mismatch",
                      {"manifest.json": staged, key: body + bytes(big << 20)}))

        staged, key, body = await self.stage("conflict", current, self.trusted_key, "conflict")
        cases.append(("same version, other bundle (validly signed)", "version_conflict", {"manifest.json": staged, key: body}))

        results = []
        for title, reason, objects in cases:
            result = await self.tamper_case(title, reason, objects, good)
            results.append(result)
        self.results["phases"]["tampering"] = {"cases": results}

        version, seen, (status, _, _) = await self.publish_next(timeout=30)
        self.check("after the attacks, a genuine publish reaches every server", status == 0 and len(seen) == len(self.servers))

    async def tamper_case(self, title, reason, objects, good):
        servers = self.servers
        before = await self.all_metrics()
        rss_before = {s.name: s.child.rss_kib() for s in servers}
        peak_before = {s.name: s.child.peak_rss_kib() for s in servers}
        proxy_before = await self.proxy_command("stats")
        peak_sampled = dict(rss_before)
        sampling = True

        async def sample_rss():
            # Resident memory every 10 ms while the case lasts: the peak a large download causes.
            while sampling:
                for server in servers:
                    value = server.child.rss_kib()
                    if value is not None and value > (peak_sampled.get(server.name) or 0):
                        peak_sampled[server.name] = value
                await asyncio.sleep(0.01)

        sampler = asyncio.create_task(sample_rss())
        offsets = {s.name: s.log_offset() for s in servers}
        for region in REGIONS:
            for key, body in objects.items():
                if key != "manifest.json":
                    await asyncio.to_thread(self.put, region, key, body)
            await asyncio.to_thread(self.put, region, "manifest.json", objects["manifest.json"])
        planted = time.monotonic()

        def seen_on_primary(name, samples):
            region = next(s.region for s in servers if s.name == name)
            return counter_by_store(samples, "allot_bundle_verify_failures_total", reason=reason).get(region, 0) > \
                counter_by_store(before[name], "allot_bundle_verify_failures_total", reason=reason).get(region, 0)

        def stores_refusing(name, samples):
            now = counter_by_store(samples, "allot_bundle_verify_failures_total", reason=reason)
            then = counter_by_store(before[name], "allot_bundle_verify_failures_total", reason=reason)
            return {r for r in REGIONS if now.get(r, 0) > then.get(r, 0)}

        # Refusing an older or conflicting manifest is an answer: the fallbacks are not asked.
        # Any other refusal moves on to the next store, so every store gets refused in turn.
        everywhere = reason not in ("older_version", "version_conflict")
        detected = {}
        while time.monotonic() - planted < 30:
            now = await self.all_metrics()
            for name, samples in now.items():
                if name not in detected and seen_on_primary(name, samples):
                    detected[name] = time.monotonic() - planted
            if len(detected) == len(servers) and (
                    not everywhere or all(len(stores_refusing(n, m)) == len(REGIONS) for n, m in now.items())
                    or time.monotonic() - planted > 10):
                break
            await asyncio.sleep(0.05)
        versions = await self.versions()
        rss_after = {s.name: s.child.rss_kib() for s in servers}
        peak_after = {s.name: s.child.peak_rss_kib() for s in servers}
        sampling = False
        await sampler
        proxy_after = await self.proxy_command("stats")
        # What the servers read from the stores (through the routes) while the case lasted.
        from_stores = sum(proxy_after["routes"][r]["bytes_down"] - proxy_before["routes"][r]["bytes_down"]
                          for r in proxy_after["routes"])
        by_store = {name: {r: int(v - counter_by_store(before[name], "allot_bundle_verify_failures_total", reason=reason).get(r, 0))
                           for r, v in counter_by_store(now[name], "allot_bundle_verify_failures_total", reason=reason).items()}
                    for name in now}
        logged = {}
        for server in servers:
            lines = [r for r in server.log_records(offsets[server.name]) if r.get("reason") == reason]
            logged[server.name] = {"lines": len(lines), "msg": lines[0].get("msg") if lines else None,
                                   "error": (lines[0].get("error") or "")[:200] if lines else None}

        # Put the genuine manifests back and remove what was planted.
        for region in REGIONS:
            await asyncio.to_thread(self.put, region, "manifest.json", good[region])
            for key in objects:
                if key != "manifest.json":
                    await asyncio.to_thread(self.delete, region, key)
        restored = time.monotonic()
        baseline = {name: sum(counter(now[name], "allot_bundle_polls_total", result=r) for r in ("not_modified", "current"))
                    for name in now}
        healthy = set()
        while len(healthy) < len(servers) and time.monotonic() - restored < 30:
            later = await self.all_metrics()
            for name, samples in later.items():
                if sum(counter(samples, "allot_bundle_polls_total", result=r) for r in ("not_modified", "current")) > baseline[name]:
                    healthy.add(name)
            await asyncio.sleep(0.05)

        result = {
            "case": title, "reason": reason, "bytes_planted": {k: len(v) for k, v in objects.items()},
            "detected_ms": {k: ms(v) for k, v in detected.items()},
            "verify_failures_by_store": by_store, "log": logged, "versions": versions,
            "rss_kib_before": rss_before, "rss_kib_after": rss_after,
            "peak_rss_kib_before": peak_before, "peak_rss_kib_after": peak_after,
            "peak_rss_growth_kib_max": max(peak_after[n] - peak_before[n] for n in peak_after),
            "sampled_rss_growth_kib_max": max(peak_sampled[n] - rss_before[n] for n in peak_sampled),
            "bytes_read_from_stores": from_stores,
        }
        all_detected = len(detected) == len(servers)
        all_logged = all(v["lines"] > 0 for v in logged.values())
        unchanged = all(v == self.version for v in versions.values())
        self.say("  %-68s %-16s metric on %d/%d servers (%d/%d server×store), JSON log on %d/%d, version %s; "
                 "read from stores %.1f MiB, RSS +%.1f MiB%s" % (
                     title, reason, len(detected), len(servers), sum(len(stores_refusing(n, m)) for n, m in now.items()),
                     len(servers) * (len(REGIONS) if everywhere else 1), sum(1 for v in logged.values() if v["lines"]), len(servers),
                     "unchanged" if unchanged else "CHANGED %s" % versions, from_stores / 1048576,
                     result["sampled_rss_growth_kib_max"] / 1024,
            "" if len(healthy) == len(servers) else " (not all healthy again after restore)"))
        self.check("%s: refused by every server (%s), in the metric and the JSON log; v%d still served" % (title, reason, self.version),
                   all_detected and all_logged and unchanged)
        largest = max(len(body) for body in objects.values())
        if largest > (1 << 20) - 1:
            # Without bounded reads each refusal costs a download of the planted object.
            refusals = sum(sum(stores.values()) for stores in by_store.values())
            per_refusal = from_stores / max(1, refusals)
            result["bytes_read_per_refusal"] = round(per_refusal)
            self.check("%s: refused without being downloaded (%.0f KiB read from the stores per refusal, %d refusals; planted %.1f MiB)" % (
                title, per_refusal / 1024, refusals, largest / 1048576), per_refusal < largest / 4)
        return result

    async def phase_soak(self):
        seconds = self.profile["soak_seconds"]
        every = self.profile["swap_every"]
        self.say("\n== soak: wrk against %d servers for %.0f s, a publish every %.0f s ==" % (len(self.servers), seconds, every))
        if not shutil.which("wrk"):
            raise DrillError("wrk not found (apt-get install wrk)")
        script = os.path.join(self.workdir, "soak.lua")
        # wrk's users are not the checker's (a "wrk-" prefix), so the exposure check can tell them apart.
        paths = ",".join('"/v1/assign?%s"' % q.replace("user_id=", "user_id=wrk-").replace("device_id=", "device_id=wrk-")
                         for q, _ in self.requests)
        ports = ",".join(str(s.port) for s in self.servers)
        with open(script, "w") as handle:
            handle.write(WRK_SCRIPT.replace("@PORTS@", ports).replace("@PATHS@", paths))
        before = await self.all_metrics()
        checker_before = self.checker.totals()
        first_version = self.version
        connections = self.profile["wrk_connections_per_server"] * len(self.servers)
        wrk = await asyncio.create_subprocess_exec(
            "wrk", "-t", str(len(self.servers)), "-c", str(connections), "-d", "%ds" % int(seconds), "--timeout", "10s",
            "-s", script, "http://127.0.0.1:%d/" % self.servers[0].port,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, preexec_fn=die_with_parent)
        start = time.monotonic()
        samples = []
        publishes = []

        async def sample_rss():
            while time.monotonic() - start < seconds + 1:
                samples.append({"t_s": round(time.monotonic() - start, 1),
                                "rss_kib": {s.name: s.child.rss_kib() for s in self.servers},
                                "fds": {s.name: s.child.open_fds() for s in self.servers}})
                await asyncio.sleep(self.profile["rss_every"])

        sampler = asyncio.create_task(sample_rss())
        # A publish starts every `every` seconds (or as soon as the previous one ends, if it took longer).
        next_publish = start + every
        while next_publish < start + seconds:
            await asyncio.sleep(max(0.0, next_publish - time.monotonic()))
            next_publish += every
            version = self.version + 1
            status, elapsed, _ = await self.publish(version)
            if status == 0:
                self.version = version
            publishes.append({"version": version, "exit": status, "publish_s": round(elapsed, 3),
                              "started_s": round(time.monotonic() - elapsed - start, 3)})
            next_publish = max(next_publish, time.monotonic())
        out, _ = await wrk.communicate()
        await sampler
        text = out.decode(errors="replace")
        match = re.search(r"^DRILL-JSON (.*)$", text, re.M)
        if not match:
            raise DrillError("wrk gave no summary:\n" + text)
        summary = json.loads(match.group(1))
        seen = await self.wait_versions(self.version, self.servers, timeout=30)
        after = await self.all_metrics()
        checker_after = self.checker.totals()
        swaps = {name: int(counter(after[name], "allot_bundle_swaps_total") - counter(before[name], "allot_bundle_swaps_total"))
                 for name in after}
        rss = {}
        for server in self.servers:
            series = [s["rss_kib"][server.name] for s in samples if s["rss_kib"][server.name] is not None]
            fds = [s["fds"][server.name] for s in samples if s["fds"][server.name] is not None]
            rss[server.name] = {"first_kib": series[0], "last_kib": series[-1], "max_kib": max(series), "min_kib": min(series),
                                "fds_first": fds[0], "fds_last": fds[-1]}
        errors = summary["errors"]
        failed = errors["connect"] + errors["read"] + errors["write"] + errors["status"] + errors["timeout"]
        results = {
            "seconds": seconds, "swap_every_s": every, "wrk": summary, "wrk_failed": failed,
            "requests_per_s": round(summary["requests"] / (summary["duration_us"] / 1e6)),
            "checker_answers": checker_after["ok"] - checker_before["ok"],
            "checker_failed": checker_after["failed"] - checker_before["failed"],
            "versions": {"from": first_version, "to": self.version, "published": sum(1 for p in publishes if p["exit"] == 0)},
            "publishes": publishes, "swaps_per_server": swaps, "all_reached_last": len(seen) == len(self.servers),
            "rss": rss, "samples": samples,
        }
        self.results["phases"]["soak"] = results
        self.say("  wrk: %d requests in %.1f s (%d/s), latency p50 %.2f ms p99 %.2f ms max %.1f ms; non-2xx %d, socket errors %d" % (
            summary["requests"], summary["duration_us"] / 1e6, results["requests_per_s"], summary["latency_us"]["p50"] / 1000,
            summary["latency_us"]["p99"] / 1000, summary["latency_us"]["max"] / 1000, errors["status"],
            errors["connect"] + errors["read"] + errors["write"] + errors["timeout"]))
        self.say("  checker: %d answers compared with allot assign, %d failed" % (results["checker_answers"], results["checker_failed"]))
        starts = [p["started_s"] for p in publishes]
        results["publish_interval_s"] = round((starts[-1] - starts[0]) / (len(starts) - 1), 2) if len(starts) > 1 else None
        self.say("  versions v%d → v%d (%d publishes, one every %s s, each taking %s-%s s), swaps per server %s" % (
            first_version, self.version, results["versions"]["published"], results["publish_interval_s"],
            min(p["publish_s"] for p in publishes), max(p["publish_s"] for p in publishes), sorted(set(swaps.values()))))
        for name, r in rss.items():
            self.say("  %-22s RSS first %6.1f MiB, last %6.1f MiB, max %6.1f MiB; open fds %s → %s" % (
                name, r["first_kib"] / 1024, r["last_kib"] / 1024, r["max_kib"] / 1024, r["fds_first"], r["fds_last"]))
        self.check("soak: zero failed requests (wrk non-2xx and socket errors, and the checker)",
                   failed == 0 and results["checker_failed"] == 0 and summary["requests"] > 0,
                   "wrk %d failed of %d; checker %d failed" % (failed, summary["requests"], results["checker_failed"]))
        self.check("soak: every publish succeeded and every server reached the last version (v%d)" % self.version,
                   all(p["exit"] == 0 for p in publishes) and results["all_reached_last"])

    # -- the whole drill

    async def main(self):
        self.results["machine"]["start"] = self.machine_state()
        self.results["settings"] = {
            "regions": REGIONS, "publisher_region": PUBLISHER_REGION, "servers_per_region": self.profile["servers_per_region"],
            "one_way_latency_ms": {"-".join(sorted(k)): v for k, v in ONE_WAY_MS.items()}, "local_one_way_ms": LOCAL_MS,
            "poll_interval_s": POLL_INTERVAL, "max_backoff_s": MAX_BACKOFF, "store_attempts": STORE_ATTEMPTS,
            "store_timeout_s": STORE_TIMEOUT, "publish_attempts": PUBLISH_ATTEMPTS, "publish_timeout_s": PUBLISH_TIMEOUT,
            "checker_rate_per_server": self.profile["checker_rate"], "profile": self.profile, "workdir": self.workdir,
        }
        machine = self.results["machine"]["start"]
        self.say("Allot multi-region drill (%s profile), %s, %d cpus, load %s, %s build %s" % (
            self.args.profile, machine["time_utc"], machine["cpus"], machine["load_average"], machine["allot_build"], self.allot))
        self.say("workdir %s" % self.workdir)
        setup_start = time.monotonic()
        self.created_at = int(time.time())
        await self.make_keys()
        self.make_requests()
        soak_publishes = int(self.profile["soak_seconds"] / self.profile["swap_every"]) + 2
        total = 1 + self.profile["publishes"] + 1 + 2 + 1 + 1 + soak_publishes + 2
        stores = asyncio.create_task(self.start_stores())
        await self.prepare_versions(total)
        await stores
        await self.start_proxy()
        status, _, report = await self.publish(1)
        if status != 0:
            raise DrillError("the first publish failed: %s" % report)
        self.version = 1
        self.first_manifest = await asyncio.to_thread(self.get, REGIONS[0], "manifest.json")
        routes = await self.measure_routes()
        self.results["settings"]["routes_measured"] = routes
        self.say("setup: %d bundles compiled, 3 stores, proxy and first publish in %.1f s" % (total, time.monotonic() - setup_start))
        self.say("latency added by the proxy to one store GET on a new connection (handshake + request), ms:")
        for client in REGIONS:
            self.say("  from %-15s %s" % (client, "  ".join("%s %s (one-way %d)" % (
                r, routes["%s>%s" % (client, r)]["added_ms"], one_way_ms(client, r)) for r in REGIONS)))
        await self.start_servers()
        self.checker = Checker(self, self.profile["checker_rate"])
        self.checker.start(self.servers)
        phases = [self.phase_propagation, self.phase_partial_publish, self.phase_replayed_region, self.phase_frozen, self.phase_region_down, self.phase_all_down, self.phase_tampering,
                  self.phase_soak]
        if self.args.only:
            phases = [p for p in phases if p.__name__.replace("phase_", "") in self.args.only.split(",")]
        for phase in phases:
            phase_start = time.monotonic()
            await phase()
            self.results["phases"].setdefault(phase.__name__.replace("phase_", ""), {})["wall_s"] = round(time.monotonic() - phase_start, 1)
        await self.checker.stop()
        totals = self.checker.totals()
        self.results["checker"] = totals
        self.say("\n== the whole drill ==")
        self.say("  checker: %d answers compared with allot assign on %d servers (restarts included), %d failed" % (
            totals["ok"], len(self.servers), totals["failed"]))
        for example in totals["examples"]:
            self.say("    %s" % example)
        self.check("whole drill: every checked answer was a 200 equal to allot assign's for its version, never going back",
                   totals["failed"] == 0 and totals["ok"] > 0)
        still = [s.name for s in self.servers if not s.child.running()]
        self.check("whole drill: no server died", not still, ", ".join(still))
        if not self.args.only:
            await self.check_operational_metrics()
        await self.check_exposures()

    async def check_operational_metrics(self):
        """Every metric the alert rules and the dashboard query is one the servers export. After
        the failure phases every kind of series exists on some server (failure counters are born
        at their first failure), so a renamed metric shows up here, not as a silent alert."""
        exported = set()
        for server in self.servers:
            if server.child.running():
                exported.update(name for name, _, _ in await server.metrics())
        referenced = {}
        for relative in OPERATIONS_FILES:
            with open(os.path.join(REPOSITORY, relative)) as handle:
                for name in re.findall(r"\ballot_[a-z_]+\b", handle.read()):
                    referenced.setdefault(name, relative)
        missing = sorted("%s (%s)" % (name, where) for name, where in referenced.items() if name not in exported)
        self.results["operational_metrics"] = {"referenced": sorted(referenced), "missing": missing}
        self.check("whole drill: every metric the alert rules and the dashboard use is exported by the servers",
                   referenced and not missing, "%d referenced%s" % (len(referenced), (", missing " + ", ".join(missing)) if missing else ""))

    async def check_exposures(self):
        """Stops every server (SIGTERM: each flushes and ships its exposure log), then reads every
        region's exposure bucket: each answer the checking client received must be there exactly
        once, as records of the version and server that answered, and nothing else of the checker's."""
        self.say("\n== exposures: SIGTERM to every server, then the shipped log against the checker's answers ==")
        import zstandard  # scripts/install-deps installs it; only this check needs it
        exits = {}
        for server in self.servers:
            exits[server.name] = await asyncio.to_thread(server.child.stop, signal.SIGTERM)
        # Which request each checker unit belongs to (wrk's users have a "wrk-" prefix).
        unit_request = {}
        for index, (_, line) in enumerate(self.requests):
            units = json.loads(line)["units"]
            for unit in units.values():
                unit_request[unit] = index
        # The decisions in each expected answer: what one answer puts in the log.
        decisions = {}
        for (server_name, index, version), count in self.checker.received.items():
            answer = json.loads(self.expected[version][index])
            decisions[(index, version)] = sorted((name, a["variant"]) for name, a in answer["assignments"].items()
                                                 if a["reason"] in ("split", "override"))
        expected = {}
        for (server_name, index, version), count in self.checker.received.items():
            for experiment, variant in decisions[(index, version)]:
                key = (server_name, index, version, experiment, variant)
                expected[key] = expected.get(key, 0) + count
        shipped = {}
        lines_seen = set()
        duplicates = 0
        segments = records = wrk_records = 0
        problems = []
        for region in REGIONS:
            for key in await asyncio.to_thread(self.list_keys, region, "allot-exposures-" + region, "prod/exposures/"):
                body = await asyncio.to_thread(self.get_object, region, "allot-exposures-" + region, key)
                segments += 1
                if "/region=%s/" % region not in key:
                    problems.append("%s in the %s bucket" % (key, region))
                # Segments are written as a stream: their frame does not declare its size.
                text = zstandard.ZstdDecompressor().decompressobj().decompress(body).decode()
                for line in text.splitlines():
                    records += 1
                    if '"unit":"wrk-' in line:
                        wrk_records += 1
                        continue
                    # The same line twice (same server, millisecond, unit, experiment) is a duplicate.
                    if line in lines_seen:
                        duplicates += 1
                    lines_seen.add(line)
                    record = json.loads(line)
                    index = unit_request.get(record["unit"])
                    if index is None or record["region"] != region:
                        problems.append("unexpected record %s" % line[:200])
                        continue
                    key = (record["server"], index, record["bundle"], record["experiment"], record["variant"])
                    shipped[key] = shipped.get(key, 0) + 1
        missing = sum(max(0, n - shipped.get(k, 0)) for k, n in expected.items())
        extra = sum(max(0, n - expected.get(k, 0)) for k, n in shipped.items())
        # Records beyond the answers received can only come from requests whose answer was lost on
        # the way back (the server answered and logged them): at most one answer's worth each.
        per_answer = max((len(d) for d in decisions.values()), default=0)
        unexplained = max(0, extra - self.checker.unanswered * per_answer)
        leftovers = []
        for server in self.servers:
            spool = os.path.join(self.workdir, "spool", server.name.replace("/", "-"))
            for folder, _, files in os.walk(spool):
                leftovers += [os.path.join(folder, f) for f in files if f.endswith(".ndjson.zst")]
        dropped = self.exposure_events_dropped()
        answers = sum(self.checker.received.values())
        results = {"server_exit_status": exits, "events_dropped": dropped, "segments": segments, "records": records, "wrk_records": wrk_records,
                   "checker_answers": answers, "checker_records_expected": sum(expected.values()),
                   "checker_records_shipped": sum(shipped.values()), "missing": missing, "extra": extra,
                   "duplicates": duplicates, "checker_unanswered": self.checker.unanswered, "extra_unexplained": unexplained,
                   "spool_leftovers": leftovers[:10], "problems": problems[:10]}
        self.results["phases"]["exposures"] = results
        self.say("  %d segments, %d records (%d from wrk); the checker's %d answers promise %d records: %d missing, %d duplicated, "
                 "%d more (%d requests sent without an answer received); %d segments left in spools" % (
                     segments, records, wrk_records, answers, sum(expected.values()), missing, duplicates, extra,
                     self.checker.unanswered, len(leftovers)))
        self.check("exposures: every server exited 0 after SIGTERM, its spool empty (everything shipped)",
                   all(status == 0 for status in exits.values()) and not leftovers, "%s %s" % (exits, leftovers[:3]))
        self.check("exposures: no server dropped an event (each writer stopped with events_dropped 0)",
                   dropped and not any(dropped.values()), "%s" % dropped)
        self.check("exposures: every answer the checking client received is in the shipped log exactly once",
                   answers > 0 and missing == 0 and duplicates == 0 and unexplained == 0 and not problems, "; ".join(problems[:3]))

    def exposure_events_dropped(self):
        """Per server log: the events its processes dropped, summed from each writer's
        "exposure writer stopped" line (every process of the drill logs one when it stops)."""
        dropped = {}
        logs = os.path.join(self.workdir, "logs")
        for name in sorted(os.listdir(logs)):
            if not name.startswith("serve-"):
                continue
            server = name[len("serve-"):-len(".log")]
            for record in json_log_records(os.path.join(logs, name)):
                if record.get("msg") == "exposure writer stopped":
                    dropped[server] = dropped.get(server, 0) + int(record.get("events_dropped", "0"))
        return dropped

    def list_keys(self, region, bucket, prefix):
        """Every key under `prefix` in a bucket of a region's moto (ListObjectsV2, page by page)."""
        keys, token = [], None
        while True:
            query = "list-type=2&prefix=%s" % urllib.parse.quote(prefix, safe="")
            if token:
                query += "&continuation-token=" + urllib.parse.quote(token, safe="")
            request = urllib.request.Request("http://127.0.0.1:%d/%s?%s" % (self.motos[region][1], bucket, query), headers=MOTO_AUTH)
            text = urllib.request.urlopen(request, timeout=30).read().decode()
            keys += re.findall(r"<Key>([^<]+)</Key>", text)
            match = re.search(r"<NextContinuationToken>([^<]+)</NextContinuationToken>", text)
            if "<IsTruncated>true</IsTruncated>" not in text or not match:
                return keys
            token = match.group(1)

    def get_object(self, region, bucket, key):
        request = urllib.request.Request("http://127.0.0.1:%d/%s/%s" % (self.motos[region][1], bucket, key), headers=MOTO_AUTH)
        return urllib.request.urlopen(request, timeout=30).read()

    async def shutdown(self):
        if self.checker is not None and not self.checker.stopped:
            await self.checker.stop()
        exits = {}
        for server in self.servers:
            if server.child is not None:
                exits[server.name] = await asyncio.to_thread(server.child.stop, signal.SIGTERM)
        self.results["server_exit_status"] = exits
        for child in self.children:
            child.stop()
        if self.proxy is not None and self.proxy.returncode is None:
            self.proxy.terminate()
            await self.proxy.wait()


WRK_SCRIPT = r"""
-- One wrk thread per server (thread.addr), each cycling through the drill's requests.
local ports = {@PORTS@}
local paths = {@PATHS@}
local next_port = 1
function setup(thread)
  thread.addr = wrk.lookup("127.0.0.1", tostring(ports[next_port]))[1]
  thread:set("offset", next_port * 7)
  next_port = next_port + 1
end
function init(args)
  n = offset or 0
end
function request()
  n = n + 1
  return wrk.format("GET", paths[(n % #paths) + 1])
end
function done(summary, latency, requests)
  io.write(string.format(
    'DRILL-JSON {"requests":%d,"duration_us":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max))
end
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--allot", default=os.path.join(REPOSITORY, ".build", "release", "allot"), help="the allot binary")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="full")
    parser.add_argument("--workdir", help="where keys, bundles, caches and logs go (default: a new temporary folder)")
    parser.add_argument("--json-out", help="also write the results here (they always go to WORKDIR/results.json)")
    parser.add_argument("--servers-per-region", type=int)
    parser.add_argument("--publishes", type=int)
    parser.add_argument("--soak-seconds", type=float)
    parser.add_argument("--swap-every", type=float)
    parser.add_argument("--only", help="comma-separated phases: propagation,region_down,all_down,tampering,soak")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--watch-parent", action="store_true",
                        help="stop (and stop everything started) when the process that started the drill goes away")
    parser.add_argument("--time-limit", type=float, default=1800, help="give up after this many seconds (default 1800)")
    args = parser.parse_args()
    random.seed(args.seed)
    # A parent may have blocked signals (a Swift test process does, for its own threads); children
    # inherit the mask, and a server or store that never sees SIGTERM would never stop.
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    if not os.access(args.allot, os.X_OK):
        sys.exit("%s is not an executable: build it (swift build -c release --product allot) or pass --allot" % args.allot)

    drill = Drill(args)
    status = 0

    async def go():
        nonlocal status
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        if args.watch_parent:
            parent = os.getppid()

            async def watch():
                while os.getppid() == parent:
                    await asyncio.sleep(1)
                task.cancel()

            watcher = asyncio.create_task(watch())  # noqa: F841 (kept referenced while it runs)

        def too_long():
            drill.results["time_limit_exceeded"] = args.time_limit
            print("\nDRILL ERROR: time limit of %.0f s exceeded" % args.time_limit, file=sys.stderr, flush=True)
            task.cancel()

        loop.call_later(args.time_limit, too_long)
        try:
            await drill.main()
            status = 0 if all(c["ok"] for c in drill.checks) else 1
        except DrillError as error:
            drill.results["error"] = str(error)
            print("\nDRILL ERROR: %s" % error, file=sys.stderr, flush=True)
            status = 2
        except asyncio.CancelledError:
            drill.results["error"] = "interrupted"
            status = 2
        finally:
            await drill.shutdown()

    try:
        asyncio.run(go())
    finally:
        drill.results["machine"]["end"] = {"time_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
                                           "load_average": [round(x, 2) for x in os.getloadavg()]}
        drill.results["wall_s"] = round(time.monotonic() - drill.t0, 1)
        drill.results["ok"] = status == 0
        text = json.dumps(drill.results, indent=1, sort_keys=False, default=sorted)
        with open(os.path.join(drill.workdir, "results.json"), "w") as handle:
            handle.write(text)
        if args.json_out:
            with open(args.json_out, "w") as handle:
                handle.write(text)
        failed = [c["name"] for c in drill.checks if not c["ok"]]
        print("\n%d checks, %d failed%s; %.0f s; results in %s" % (
            len(drill.checks), len(failed), "".join("\n  FAILED: " + f for f in failed), drill.results["wall_s"],
            os.path.join(drill.workdir, "results.json")), flush=True)
    sys.exit(status)


if __name__ == "__main__":
    main()
