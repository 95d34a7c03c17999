#!/usr/bin/env python3
"""Starts allot-serve.service's ExecStart by hand, the way systemd would, where systemd is not PID 1.

systemd-analyze verifies the unit file, but only a running systemd can start it, and the machines
this project is built and tested on run without one. This reads the unit and does what systemd does
for the settings that decide whether the server starts and serves:

  - EnvironmentFile= (given here with --environment-file, standing in for /etc/allot/serve.env, and
    --credentials-file for the optional one), then ExecStart= expanded as systemd expands it:
    `${VAR}` is one argument, `$VAR` is split on whitespace; a variable the files do not define is
    an error here (systemd would pass an empty string: a broken unit);
  - LimitNOFILE= as the process's descriptor limit (prlimit), CacheDirectory= as a fresh folder
    owned by the service's user at the place ExecStart names (/var/cache/allot is mapped to it),
    StateDirectory= likewise (/var/lib/allot), WorkingDirectory=;
  - DynamicUser= as an unused uid/gid (setpriv), with no supplementary groups and NoNewPrivileges,
    and PrivateTmp= as an empty private /tmp (a mount namespace).

The server runs in the foreground until SIGTERM or SIGINT, which it forwards (systemd's KillSignal).

    ops/deploy/systemd/exec-unit.py --environment-file my-serve.env --binary .build/debug/allot \
        [--unit ops/deploy/systemd/allot-serve.service] [--set LimitNOFILE=290] [--replace-arg=--max-connections=50]

--set overrides a [Service] setting, --replace-arg NAME=VALUE replaces the value after the flag
NAME in ExecStart (for small-scale tests of the same unit). Exit status: the server's.
"""

import argparse
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from processes import unblock_signals  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DYNAMIC_UID = 61_873  # in systemd's DynamicUser range (61184-65519)


def parse_unit(path: str) -> dict[str, list[str]]:
    """[Service] settings, each a list of its values in order (continuation lines joined)."""
    settings: dict[str, list[str]] = {}
    section, pending = None, ""
    with open(path) as file:
        for raw in file:
            line = raw.rstrip("\n")
            if not pending and (not line.strip() or line.lstrip().startswith(("#", ";"))):
                continue
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            line, pending = pending + line, ""
            if line.startswith("["):
                section = line.strip("[] ")
                continue
            if section == "Service":
                key, _, value = line.partition("=")
                settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def read_environment_file(path: str) -> dict[str, str]:
    variables = {}
    with open(path) as file:
        for number, line in enumerate(file, 1):
            line = line.strip()
            if not line or line.startswith(("#", ";")):
                continue
            key, equals, value = line.partition("=")
            if not equals or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                raise SystemExit(f"{path}:{number}: not NAME=VALUE")
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            variables[key] = value
    return variables


def expand(command: str, variables: dict[str, str]) -> list[str]:
    """systemd's ExecStart expansion: ${VAR} stays one word, a lone $VAR word splits."""
    words = []
    for word in shlex.split(command):
        lone = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
        if lone:
            name = lone.group(1)
            if name not in variables:
                raise SystemExit(f"ExecStart uses ${name}, which no environment file defines")
            words += variables[name].split()
            continue

        def substitute(match: re.Match) -> str:
            name = match.group(1)
            if name not in variables:
                raise SystemExit(f"ExecStart uses ${{{name}}}, which no environment file defines")
            return variables[name]

        words.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", substitute, word))
    return words


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--unit", default=os.path.join(HERE, "allot-serve.service"))
    parser.add_argument("--environment-file", required=True, help="stands in for /etc/allot/serve.env")
    parser.add_argument("--credentials-file", help="stands in for /etc/allot/store-credentials.env")
    parser.add_argument("--binary", required=True, help="the allot binary ExecStart names")
    parser.add_argument("--cache-root", help="folder standing in for /var/cache (default: a temporary one)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--replace-arg", action="append", default=[], metavar="FLAG=VALUE")
    options = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("exec-unit: run as root (it switches to the dynamic user, as systemd does)")

    unblock_signals()  # as systemd starts a service
    settings = parse_unit(options.unit)
    for assignment in options.set:
        key, _, value = assignment.partition("=")
        settings[key] = [value]
    expected = {"DynamicUser": "yes", "NoNewPrivileges": "yes", "PrivateTmp": "yes"}
    for key, value in expected.items():
        if settings.get(key, [""])[-1] != value:
            raise SystemExit(f"the unit no longer sets {key}={value}: update this script")
    variables = read_environment_file(options.environment_file)
    environment_files = settings.get("EnvironmentFile", [])
    if environment_files[:1] != ["/etc/allot/serve.env"]:
        raise SystemExit(f"the unit's first EnvironmentFile is {environment_files[:1]}, not /etc/allot/serve.env")
    if options.credentials_file:
        variables.update(read_environment_file(options.credentials_file))

    command = expand(settings["ExecStart"][-1], variables)
    if command[0] != "/usr/local/bin/allot":
        raise SystemExit(f"ExecStart runs {command[0]}, not /usr/local/bin/allot")
    command[0] = os.path.abspath(options.binary)
    for replacement in options.replace_arg:
        flag, _, value = replacement.partition("=")
        if flag not in command:
            raise SystemExit(f"ExecStart has no {flag}")
        command[command.index(flag) + 1] = value

    # Not under /tmp: the service gets a private, empty /tmp.
    cache_root = options.cache_root or tempfile.mkdtemp(prefix="allot-unit-cache-", dir="/var/tmp")
    os.makedirs(cache_root, exist_ok=True)
    os.chmod(cache_root, 0o755)  # as /var/cache: the service's user must be able to reach its folder
    cache_name = settings["CacheDirectory"][-1]
    cache = os.path.join(cache_root, cache_name)
    os.makedirs(cache, exist_ok=True)
    os.chown(cache, DYNAMIC_UID, DYNAMIC_UID)
    os.chmod(cache, int(settings.get("CacheDirectoryMode", ["0755"])[-1], 8))
    command = [word.replace(f"/var/cache/{cache_name}", cache) for word in command]
    if "StateDirectory" in settings:
        # StateDirectory= as a fresh folder beside the cache root, standing in for /var/lib.
        state_name = settings["StateDirectory"][-1]
        state = os.path.join(cache_root, "state-" + state_name)
        os.makedirs(state, exist_ok=True)
        os.chown(state, DYNAMIC_UID, DYNAMIC_UID)
        os.chmod(state, int(settings.get("StateDirectoryMode", ["0755"])[-1], 8))
        command = [word.replace(f"/var/lib/{state_name}", state) for word in command]
    directory = settings.get("WorkingDirectory", ["/"])[-1].replace(f"/var/cache/{cache_name}", cache)
    limit = settings["LimitNOFILE"][-1]

    # The service's environment: systemd passes only what the unit defines, plus its own variables.
    environment = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin", "CACHE_DIRECTORY": cache, "LANG": "C.UTF-8"}
    environment.update(variables)
    script = " ".join([
        "mount -t tmpfs -o mode=1777 tmpfs /tmp &&",
        f"cd {shlex.quote(directory)} &&",
        f"exec prlimit --nofile={limit}:{limit}",
        f"setpriv --reuid={DYNAMIC_UID} --regid={DYNAMIC_UID} --clear-groups --no-new-privs",
        shlex.join(command),
    ])
    print(f"exec-unit: {shlex.join(command)} (uid {DYNAMIC_UID}, LimitNOFILE={limit})", file=sys.stderr, flush=True)
    process = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script], env=environment)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda number, _frame: process.send_signal(number))
    return process.wait()


if __name__ == "__main__":
    sys.exit(main())
