#!/usr/bin/env python3
"""Checks the least-privilege policies against an S3 server that enforces IAM (moto).

Starts one moto server with IAM enforced (INITIAL_NO_AUTH_ACTION_COUNT: the setup requests are free,
every later one must be signed and allowed), creates the three regional buckets of the policies,
a publisher user with publisher-policy.json and a server user with server-policy.json, then checks
with the real `allot`:

  - the publisher's credentials publish a bundle to the three regions (objects and manifests);
  - the server's credentials read them: `allot status` agrees, `allot serve` becomes ready;
  - the server's credentials cannot publish: `allot publish` fails with access denied, nothing moves;
  - neither can write outside `prod/manifest.json` and `prod/bundles/`, nor delete anything.

    ops/deploy/iam/check-policies.py --allot .build/debug/allot [--moto-server PATH]

Prints one line per check; exit status 0 when all pass, 1 when one fails, 2 when it could not run.
moto evaluates actions and resources of identity policies; it does not emulate AWS's rule that a
GET of a missing key answers 404 only with s3:ListBucket (403 without), which is why both policies
grant it (docs/deploy.md, "Least-privilege store credentials").
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from processes import free_port, moto_server, stop, unblock_signals, wait_for_port  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
REGIONS = ["eu-west-1", "us-east-1", "ap-southeast-2"]
SETUP_REQUESTS = 3 + 2 * 3  # buckets; then per user: create_user, put_user_policy, create_access_key








class Checks:
    def __init__(self) -> None:
        self.failed = 0

    def expect(self, condition: bool, name: str, detail: str = "") -> None:
        print(f"{'ok  ' if condition else 'FAIL'} {name}" + (f"\n     {detail}" if detail and not condition else ""))
        if not condition:
            self.failed += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--allot", default=os.path.join(REPOSITORY, ".build/debug/allot"))
    parser.add_argument("--moto-server")
    options = parser.parse_args()
    allot = os.path.abspath(options.allot)

    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    unblock_signals()  # as a service manager starts a server
    work = tempfile.mkdtemp(prefix="allot-iam-")
    port = free_port()
    environment = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT=str(SETUP_REQUESTS))
    moto = subprocess.Popen(
        [moto_server(options.moto_server), "-H", "127.0.0.1", "-p", str(port)],
        env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = None
    try:
        wait_for_port(port, moto)
        endpoint = f"http://127.0.0.1:{port}"
        anonymous = dict(aws_access_key_id="setup", aws_secret_access_key="setup", region_name="us-east-1")
        s3 = boto3.client("s3", endpoint_url=endpoint, **anonymous)
        for region in REGIONS:
            s3.create_bucket(Bucket=f"allot-{region}")
        iam = boto3.client("iam", endpoint_url=endpoint, **anonymous)
        credentials = {}
        for role in ["publisher", "server"]:
            with open(os.path.join(HERE, f"{role}-policy.json")) as file:
                policy = file.read()
            iam.create_user(UserName=f"allot-{role}")
            iam.put_user_policy(UserName=f"allot-{role}", PolicyName=f"allot-{role}", PolicyDocument=policy)
            key = iam.create_access_key(UserName=f"allot-{role}")["AccessKey"]
            credentials[role] = {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}

        def run(role: str, *arguments: str) -> subprocess.CompletedProcess:
            env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "ALLOT_SIGNING_KEY"}
            env.update(credentials[role])
            return subprocess.run([allot, *arguments], env=env, cwd=work, capture_output=True, text=True, timeout=120)

        def client(role: str):
            return boto3.client(
                "s3", endpoint_url=endpoint, region_name="us-east-1",
                aws_access_key_id=credentials[role]["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=credentials[role]["AWS_SECRET_ACCESS_KEY"],
                config=Config(retries={"max_attempts": 1}))

        def denied(call) -> str | None:
            """None when the call was refused with AccessDenied, else what happened."""
            try:
                call()
                return "it succeeded"
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code")
                return None if code == "AccessDenied" else f"error {code}"

        stores = [f"s3://allot-{region}/prod?endpoint={endpoint}&region={region}" for region in REGIONS]
        store_flags = [flag for store in stores for flag in ("--store", store)]
        shutil.copytree(os.path.join(REPOSITORY, "experiments"), os.path.join(work, "experiments"))
        checks = Checks()
        keygen = subprocess.run([allot, "keygen", "--out", "keys"], cwd=work, capture_output=True, text=True)
        if keygen.returncode != 0:
            raise RuntimeError(f"allot keygen failed: {keygen.stderr}")
        for version in ["1", "2"]:
            compiled = subprocess.run(
                [allot, "compile", "--signing-key", "keys/signing.key", "--version", version,
                 "--created-at", "2026-12-01T00:00:00Z", "--output", f"{version}.bundle"],
                cwd=work, capture_output=True, text=True)
            if compiled.returncode != 0:
                raise RuntimeError(f"allot compile failed: {compiled.stderr}")

        published = run("publisher", "publish", "1.bundle", "--signing-key", "keys/signing.key", *store_flags)
        checks.expect(published.returncode == 0, "the publisher's credentials publish to all three regions",
                      published.stdout + published.stderr)
        def versions(result: subprocess.CompletedProcess) -> list:
            try:
                return [region.get("version") for region in json.loads(result.stdout)["report"]["regions"]]
            except (ValueError, KeyError, TypeError, AttributeError):
                return []

        status = run("server", "status", *store_flags, "--trusted-key", "keys/signing.pub", "--json")
        checks.expect(status.returncode == 0 and versions(status) == [1, 1, 1],
                      "the server's credentials read every region's manifest (allot status)", status.stdout + status.stderr)

        refused = run("server", "publish", "2.bundle", "--signing-key", "keys/signing.key", *store_flags)
        checks.expect(refused.returncode != 0 and "AccessDenied" in refused.stdout + refused.stderr,
                      "the server's credentials cannot publish (access denied)", refused.stdout + refused.stderr)
        after = run("server", "status", *store_flags, "--trusted-key", "keys/signing.pub", "--json")
        checks.expect(versions(after) == [1, 1, 1], "the refused publish moved no manifest", after.stdout)

        for role in ["publisher", "server"]:
            s3r = client(role)
            problem = denied(lambda: s3r.put_object(Bucket="allot-eu-west-1", Key="other/manifest.json", Body=b"{}"))
            checks.expect(problem is None, f"{role}: no write outside prod/", str(problem))
            problem = denied(lambda: s3r.put_object(Bucket="allot-eu-west-1", Key="prod/notes.txt", Body=b"x"))
            checks.expect(problem is None, f"{role}: no write to other keys under prod/", str(problem))
            problem = denied(lambda: s3r.delete_object(Bucket="allot-eu-west-1", Key="prod/manifest.json"))
            checks.expect(problem is None, f"{role}: cannot delete the manifest", str(problem))
        problem = denied(lambda: client("server").put_object(Bucket="allot-us-east-1", Key="prod/manifest.json", Body=b"{}"))
        checks.expect(problem is None, "server: cannot overwrite a manifest", str(problem))

        # A real server with the read-only credentials: fetches manifest and bundle, becomes ready.
        listen = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(credentials["server"])
        server = subprocess.Popen(
            [allot, "serve", "--store", stores[0], "--fallback-store", stores[1], "--trusted-key", "keys/signing.pub",
             "--listen", f"127.0.0.1:{listen}", "--cache-dir", "cache", "--poll-interval", "1", "--max-backoff", "2"],
            cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        ready = None
        deadline = time.time() + 30
        while time.time() < deadline and ready is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{listen}/readyz", timeout=2) as answer:
                    ready = json.loads(answer.read())
            except OSError:
                time.sleep(0.2)
        checks.expect(ready is not None and ready.get("version") == 1,
                      "allot serve with the server's credentials fetches, verifies and serves version 1", str(ready))

        print(f"{checks.failed} failed" if checks.failed else "all checks passed")
        return 1 if checks.failed else 0
    except Exception as error:  # noqa: BLE001 - the drill-style "could not run" status
        print(f"check-policies could not run: {error}", file=sys.stderr)
        return 2
    finally:
        for process in [server, moto]:
            stop(process)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
