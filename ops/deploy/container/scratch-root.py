#!/usr/bin/env python3
"""Runs the container image's final stage without a container engine: the same steps, in a scratch root.

No container engine runs on the machines this project is built on, so this proves what the image
copies and runs by doing it here, as root, from the Dockerfile itself:

  1. read the Dockerfile's runtime stage (the last FROM): the packages its RUN installs, what it
     COPYs from the build stage, USER, VOLUME, EXPOSE, HEALTHCHECK, ENTRYPOINT and CMD; any other
     instruction stops the script, so nothing in the file is silently skipped;
  2. build a root holding only the files of those packages and of their dependencies (dpkg's file
     lists of this Debian 12 machine, the image's Debian release), plus the certificates
     ca-certificates' installation generates: a subset of debian:bookworm-slim with those packages;
  3. unpack the release tarball into an empty directory and COPY from it as the build stage does
     (`/staging` is the tarball's top directory, as the build stage's RUN makes it);
  4. start ENTRYPOINT + CMD (+ --store to a real S3 server, moto, and a free port for --listen)
     as USER, in a mount namespace where the root is read-only, only the VOLUME is writable, the
     trusted key is mounted read-only where CMD expects it, and /proc and a few devices exist, as an
     engine provides them; then run the HEALTHCHECK command inside the root, wait for /readyz, get an
     assignment, check the cache was written to the volume, and stop it with SIGTERM (exit 0).

    ops/deploy/container/scratch-root.py --tarball dist/allot-0.1.0-linux-x86_64.tar.gz
    ops/deploy/container/scratch-root.py --tarball T --swift-runtime /opt/swift/usr/lib/swift/linux

--swift-runtime adds the Swift runtime's shared libraries to the root: only for a tarball made
from a debug build (release.sh --allow-dynamic-swift), as the tests do to stay fast; a release
tarball runs without it. Exit status 0 when every step worked, 1 when one failed, 2 on bad use.
"""

import argparse
import glob
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from processes import free_port, start_moto, stop, unblock_signals, wait_for_port  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
KNOWN = {"FROM", "RUN", "COPY", "USER", "VOLUME", "EXPOSE", "HEALTHCHECK", "ENTRYPOINT", "CMD", "ARG", "WORKDIR", "ENV"}


class Failure(Exception):
    pass


def instructions(path: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    result, pending = [], ""
    with open(path) as file:
        for line in file:
            stripped = line.strip()
            if stripped.startswith("#") and not pending:
                continue
            if stripped.startswith("#"):
                continue
            if stripped.endswith("\\"):
                pending += stripped[:-1] + " "
                continue
            text = (pending + stripped).strip()
            pending = ""
            if text:
                word, _, rest = text.partition(" ")
                result.append((word.upper(), rest.strip()))
    return result


def runtime_stage(path: str) -> dict:
    steps = instructions(path)
    unknown = sorted({word for word, _ in steps} - KNOWN)
    if unknown:
        raise Failure(f"{path}: instructions this script does not reproduce: {', '.join(unknown)}")
    starts = [index for index, (word, _) in enumerate(steps) if word == "FROM"]
    build, final = steps[starts[-2]:starts[-1]], steps[starts[-1]:]
    stage = {"base": final[0][1], "packages": [], "copies": [], "volumes": [], "expose": []}
    if not any("--strip-components=1" in rest and "-C /staging" in rest for word, rest in build if word == "RUN"):
        raise Failure("the build stage no longer unpacks the release tarball into /staging: update this script")
    for word, rest in final[1:]:
        if word == "RUN":
            match = re.search(r"apt-get install ((?:-\S+ )*)([^&]+)", rest)
            if not match:
                raise Failure(f"RUN this script does not reproduce: {rest}")
            stage["packages"] += match.group(2).split()
        elif word == "COPY":
            parts = rest.split()
            if parts[0] != "--from=build" or len(parts) != 3:
                raise Failure(f"COPY this script does not reproduce: {rest}")
            stage["copies"].append((parts[1], parts[2]))
        elif word == "USER":
            stage["user"] = rest
        elif word == "VOLUME":
            stage["volumes"] += json.loads(rest) if rest.startswith("[") else rest.split()
        elif word == "EXPOSE":
            stage["expose"] += rest.split()
        elif word == "HEALTHCHECK":
            stage["healthcheck"] = json.loads(rest[rest.index("CMD") + 3:].strip())
        elif word in ("ENTRYPOINT", "CMD"):
            stage[word.lower()] = json.loads(rest)
        else:
            raise Failure(f"{word} in the runtime stage is not reproduced by this script")
    return stage


def package_closure(packages: list[str]) -> list[str]:
    """The packages and everything they depend on (no recommends), as installed on this machine."""
    output = subprocess.run(
        ["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts", "--no-breaks",
         "--no-replaces", "--no-enhances", *packages], capture_output=True, text=True, check=True).stdout
    names = {line.split(":")[0] for line in output.splitlines() if line and not line.startswith((" ", "<"))}
    installed = set(subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\n"], capture_output=True, text=True, check=True
    ).stdout.split("\n"))
    missing = [name for name in packages if f"{name} installed" not in installed]
    if missing:
        raise Failure(f"packages the image installs are not installed here: {' '.join(missing)} (apt-get install them)")
    # Alternatives (debconf-2.0 | cdebconf…) appear too: keep what this machine has.
    return sorted(name for name in names if f"{name} installed" in installed)


def copy_package_files(packages: list[str], root: str) -> int:
    count = 0
    # Debian's merged /usr: /lib, /bin… are links into /usr (bookworm images are merged).
    for top in ["bin", "sbin", "lib", "lib64"]:
        if os.path.islink(f"/{top}"):
            os.makedirs(os.path.join(root, "usr", top), exist_ok=True)
            os.symlink(os.readlink(f"/{top}"), f"{root}/{top}")
    for package in packages:
        listing = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True, check=True).stdout
        for path in listing.splitlines():
            if not path.startswith("/") or path.startswith(("/usr/share/doc", "/usr/share/man", "/usr/share/locale")):
                continue
            target = root + path
            if os.path.islink(path):
                os.makedirs(os.path.dirname(target), exist_ok=True)
                if not os.path.lexists(target):
                    os.symlink(os.readlink(path), target)
            elif os.path.isdir(path):
                os.makedirs(target, exist_ok=True)
            elif os.path.isfile(path):
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copy2(path, target)
                count += 1
    return count






def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=3) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tarball", required=True)
    parser.add_argument("--dockerfile", default=os.path.join(HERE, "Dockerfile"))
    parser.add_argument("--swift-runtime", help="folder of the Swift runtime's .so files (debug-build tarballs only)")
    parser.add_argument("--allot", help="allot on this host, to make the key and publish (default: the tarball's)")
    parser.add_argument("--moto-server")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder and print its path")
    options = parser.parse_args()
    if os.geteuid() != 0:
        print("scratch-root: needs root (chroot, mount namespaces)", file=sys.stderr)
        return 2

    unblock_signals()  # as a container engine starts a container
    work = tempfile.mkdtemp(prefix="allot-scratch-root-")
    processes = []
    try:
        stage = runtime_stage(options.dockerfile)
        print(f"runtime stage: {stage['base']}, packages {' '.join(stage['packages'])}, user {stage['user']}")
        root = os.path.join(work, "root")
        os.makedirs(root)
        closure = package_closure(stage["packages"])
        files = copy_package_files(closure, root)
        # What ca-certificates' postinst generates (update-ca-certificates): /etc/ssl/certs.
        if "ca-certificates" in stage["packages"]:
            shutil.copytree("/etc/ssl/certs", root + "/etc/ssl/certs", symlinks=True, dirs_exist_ok=True)
        print(f"root: {len(closure)} packages, {files} files")

        # The build stage: the tarball unpacked into /staging without its top directory.
        staging = os.path.join(work, "staging")
        with tarfile.open(options.tarball) as archive:
            archive.extractall(staging, filter="data")
        tops = os.listdir(staging)
        if len(tops) != 1:
            raise Failure(f"the tarball should hold one top directory, not {tops}")
        for source, destination in stage["copies"]:
            if not source.startswith("/staging/"):
                raise Failure(f"COPY from {source}: not from the unpacked tarball")
            origin = os.path.join(staging, tops[0], source[len("/staging/"):])
            os.makedirs(os.path.dirname(root + destination), exist_ok=True)
            shutil.copy2(origin, root + destination)
        if options.swift_runtime:
            target = root + options.swift_runtime
            os.makedirs(target, exist_ok=True)
            for library in glob.glob(os.path.join(options.swift_runtime, "*.so*")):
                shutil.copy2(library, target)
            print(f"added the Swift runtime from {options.swift_runtime} (a debug-build tarball)")
        for mount_point in ["proc", "dev", "tmp-absent-check", *[v.lstrip("/") for v in stage["volumes"]], "etc/allot/keys"]:
            if mount_point != "tmp-absent-check":
                os.makedirs(os.path.join(root, mount_point), exist_ok=True)
        for device in ["null", "zero", "random", "urandom"]:
            open(os.path.join(root, "dev", device), "w").close()

        # A real S3 store, a key and a published bundle, made on the host.
        host_allot = os.path.abspath(options.allot) if options.allot else root + stage["copies"][0][1]
        environment = dict(os.environ)
        if options.swift_runtime:
            environment["LD_LIBRARY_PATH"] = options.swift_runtime
        try:
            moto, moto_endpoint = start_moto("allot-scratch", options.moto_server)
        except RuntimeError as error:
            raise Failure(f"moto: {error}") from None
        processes.append(moto)
        store = f"s3://allot-scratch/prod?endpoint={moto_endpoint}&region=eu-west-1"
        publish_dir = os.path.join(work, "publish")
        shutil.copytree(os.path.join(REPOSITORY, "experiments"), os.path.join(publish_dir, "experiments"))
        host_env = {**environment, "AWS_ACCESS_KEY_ID": "scratch", "AWS_SECRET_ACCESS_KEY": "scratch"}
        for arguments in (["keygen", "--out", "keys"],
                          ["compile", "--signing-key", "keys/signing.key", "--version", "7",
                           "--created-at", "2026-12-01T00:00:00Z", "--output", "7.bundle"],
                          ["publish", "7.bundle", "--signing-key", "keys/signing.key", "--store", store]):
            result = subprocess.run([host_allot, *arguments], cwd=publish_dir, env=host_env, capture_output=True, text=True)
            if result.returncode != 0:
                raise Failure(f"allot {arguments[0]} on the host failed: {result.stdout}{result.stderr}")
        keys = os.path.join(work, "keys")
        os.makedirs(keys)
        shutil.copy2(os.path.join(publish_dir, "keys", "signing.pub"), keys)
        cache = os.path.join(work, "cache")
        os.makedirs(cache)
        uid, _, gid = stage["user"].partition(":")
        os.chown(cache, int(uid), int(gid or uid))

        # ENTRYPOINT + CMD, with the store added and the port made free (the host's network is shared).
        port = free_port()
        command = stage["entrypoint"] + [
            f"--listen=0.0.0.0:{port}" if argument.startswith("--listen=") else argument for argument in stage["cmd"]
        ] + [f"--store={store}"]
        if not any(argument.startswith("--listen=") for argument in stage["cmd"]):
            raise Failure("CMD has no --listen=: the health check's port cannot be known")
        volume = stage["volumes"][0]
        script = "\n".join([
            "set -e",
            f"mount --bind {shlex.quote(root)} {shlex.quote(root)}",
            f"mount -t proc proc {shlex.quote(root)}/proc",
            *[f"mount --bind /dev/{device} {shlex.quote(root)}/dev/{device}" for device in ["null", "zero", "random", "urandom"]],
            f"mount --bind {shlex.quote(cache)} {shlex.quote(root + volume)}",
            f"mount --bind {shlex.quote(keys)} {shlex.quote(root)}/etc/allot/keys",
            f"mount -o remount,bind,ro {shlex.quote(root)}/etc/allot/keys",
            # The root read-only, as `docker run --read-only` or readOnlyRootFilesystem make it.
            f"mount -o remount,bind,ro {shlex.quote(root)}",
            f"exec chroot --userspec={shlex.quote(stage['user'])} {shlex.quote(root)} {shlex.join(command)}",
        ])
        run_env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "AWS_ACCESS_KEY_ID": "scratch", "AWS_SECRET_ACCESS_KEY": "scratch"}
        log_path = os.path.join(work, "serve.log")
        with open(log_path, "w") as log:
            server = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                                      env=run_env, stdout=log, stderr=log)
        processes.append(server)
        try:
            try:
                wait_for_port(port, server)
            except RuntimeError as error:
                raise Failure(str(error)) from None
            deadline = time.time() + 30
            status = 0
            while time.time() < deadline:
                status, _ = get(f"http://127.0.0.1:{port}/readyz")
                if status == 200:
                    break
                time.sleep(0.2)
            if status != 200:
                raise Failure(f"/readyz answered {status} after 30 s")
        except Failure as error:
            raise Failure(f"the server in the scratch root: {error}\n{open(log_path).read()}") from None
        print(f"ready: {get(f'http://127.0.0.1:{port}/readyz')[1].decode()}")

        # The HEALTHCHECK, run inside the root as the image's user (its own curl and libraries).
        health = [argument.replace(":8080/", f":{port}/") for argument in stage["healthcheck"]]
        check = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c",
             f"mount --bind /dev/null {shlex.quote(root)}/dev/null && "
             f"exec chroot --userspec={shlex.quote(stage['user'])} {shlex.quote(root)} {shlex.join(health)}"],
            env=run_env, capture_output=True, text=True)
        if check.returncode != 0:
            raise Failure(f"HEALTHCHECK {health} exited {check.returncode}: {check.stderr}")
        print(f"health check: {' '.join(health)} → exit 0")

        status, body = get(f"http://127.0.0.1:{port}/v1/assign?user_id=scratch-1")
        answer = json.loads(body) if status == 200 else {}
        if answer.get("version") != 7:
            raise Failure(f"/v1/assign answered {status}: {body[:200]!r}")
        print(f"assignment from version {answer['version']}: {len(answer.get('assignments', {}))} experiments")
        cached = sorted(os.listdir(cache))
        if not cached:
            raise Failure("nothing was written to the cache volume")
        print(f"cache volume: {', '.join(cached)}")

        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=30)
        if code != 0:
            raise Failure(f"SIGTERM: exit status {code}\n{open(log_path).read()}")
        print("SIGTERM: drained, exit status 0")
        return 0
    except (Failure, subprocess.CalledProcessError, OSError) as error:
        print(f"scratch-root: {error}", file=sys.stderr)
        return 1
    finally:
        for process in reversed(processes):
            stop(process)
        if options.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
