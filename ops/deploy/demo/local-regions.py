#!/usr/bin/env python3
"""Three local S3 regions (moto) standing in for the cloud, for docs/deploy.md's walkthrough.

    ops/deploy/demo/local-regions.py start DIR          start eu-west-1, us-east-1, ap-southeast-2
    ops/deploy/demo/local-regions.py stop-region DIR R  stop one region's store (an outage)
    ops/deploy/demo/local-regions.py stop DIR           stop every process recorded in DIR/*.pid

`start` runs one moto server per region on a free loopback port, creates its bucket
allot-REGION, and writes DIR/regions.env for the shell to source:
    STORE_EU, STORE_US, STORE_AP   the three store URLs (s3://allot-REGION/prod?endpoint=…&region=REGION)
    PORT_EU, PORT_US, PORT_AP      free ports for one `allot serve` per region
    AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY   exported: any keys (moto does not check them here)
Each process's id goes to DIR/<name>.pid; `stop` ends every process named there (servers started by
the walkthrough write theirs too), so nothing is left running. moto does not check signatures here;
ops/deploy/iam/check-policies.py is the walkthrough's step that does.
"""

import glob
import os
import signal
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from processes import free_port, moto_server  # noqa: E402

REGIONS = {"eu-west-1": "EU", "us-east-1": "US", "ap-southeast-2": "AP"}






def start(directory: str) -> None:
    os.makedirs(directory, exist_ok=True)
    lines = []
    for region, short in REGIONS.items():
        port = free_port()
        log = open(os.path.join(directory, f"moto-{region}.log"), "w")
        process = subprocess.Popen([moto_server(), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        with open(os.path.join(directory, f"moto-{region}.pid"), "w") as file:
            file.write(f"{process.pid}\n")
        deadline = time.time() + 30
        while True:
            try:
                request = urllib.request.Request(f"http://127.0.0.1:{port}/allot-{region}", method="PUT")
                urllib.request.urlopen(request, timeout=2).close()
                break
            except OSError:
                if time.time() > deadline or process.poll() is not None:
                    raise SystemExit(f"moto for {region} did not start (see {log.name})")
                time.sleep(0.1)
        lines.append(f"STORE_{short}='s3://allot-{region}/prod?endpoint=http://127.0.0.1:{port}&region={region}'")
        lines.append(f"PORT_{short}={free_port()}")
        print(f"{region}: store on 127.0.0.1:{port}, bucket allot-{region}")
    # moto takes any keys when it does not enforce IAM, but refuses unsigned requests.
    lines.append("export AWS_ACCESS_KEY_ID=local-demo AWS_SECRET_ACCESS_KEY=local-demo")
    with open(os.path.join(directory, "regions.env"), "w") as file:
        file.write("\n".join(lines) + "\n")


def stop_pid_file(path: str) -> None:
    try:
        pid = int(open(path).read().split()[0])
    except (OSError, ValueError, IndexError):
        os.remove(path)
        return
    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.time() + 15
        while time.time() < deadline and running(pid):
            time.sleep(0.1)
        if running(pid):
            os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.remove(path)


def running(pid: int) -> bool:
    """Whether the process exists and has not exited (an exited child nobody reaped yet is a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "start":
        start(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "stop":
        for path in sorted(glob.glob(os.path.join(sys.argv[2], "*.pid"))):
            stop_pid_file(path)
    elif len(sys.argv) == 4 and sys.argv[1] == "stop-region" and sys.argv[3] in REGIONS:
        stop_pid_file(os.path.join(sys.argv[2], f"moto-{sys.argv[3]}.pid"))
    else:
        print(__doc__, file=sys.stderr)
        return 64
    return 0


if __name__ == "__main__":
    sys.exit(main())
