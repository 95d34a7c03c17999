"""Processes for the ops/deploy scripts: free loopback ports, waiting for a listener, moto, stopping.

Imported by check.py, container/scratch-root.py, iam/check-policies.py, demo/local-regions.py,
systemd/exec-unit.py and order-file.py (each puts ops/deploy on sys.path first).
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request


def free_port() -> int:
    """A loopback port nobody listens on (the kernel's pick for an ephemeral bind)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    """Waits until 127.0.0.1:port accepts connections; RuntimeError if the process exits or time runs out."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port} after {timeout} s")


def moto_server(given: str | None = None) -> str:
    """moto's server: GIVEN, $ALLOT_MOTO_SERVER, the one beside this Python, or the one on PATH."""
    if given:
        return given
    if os.environ.get("ALLOT_MOTO_SERVER"):
        return os.environ["ALLOT_MOTO_SERVER"]
    beside = os.path.join(os.path.dirname(os.path.realpath(sys.executable)), "moto_server")
    found = beside if os.path.exists(beside) else shutil.which("moto_server")
    if not found:
        raise SystemExit("moto_server not found: pip install 'moto[server]' (scripts/install-deps does)")
    return found


def start_moto(bucket: str, given: str | None = None, log=subprocess.DEVNULL) -> tuple[subprocess.Popen, str]:
    """moto's server (see moto_server) on a free loopback port, with BUCKET created: the process
    (stop it with stop()) and its endpoint, http://127.0.0.1:PORT. RuntimeError if it does not
    start; the process is stopped on any failure."""
    port = free_port()
    process = subprocess.Popen([moto_server(given), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log,
                               stdin=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port, process)
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/{bucket}", method="PUT"), timeout=10).close()
    except BaseException:
        stop(process)
        raise
    return process, endpoint


def unblock_signals() -> None:
    """No blocked signals, as a service manager or a container engine starts a process: a parent (a
    test runner) may block SIGTERM, children inherit the mask, and the server would never see it."""
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def stop(process: subprocess.Popen | None, timeout: float = 15) -> None:
    """SIGTERM, then SIGKILL after `timeout` seconds."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
