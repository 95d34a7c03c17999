#!/usr/bin/env python3
"""Checks every deployment artefact in ops/deploy, each check by name (the deploy tests run them all).

    ops/deploy/check.py NAME [NAME…]        run checks; ops/deploy/check.py --list names them

Each check prints what it did and exits non-zero with the reason on the first failure. The linters
(checkov, kubernetes-validate, hadolint, kubectl for kustomize) come from the tools folder that
scripts/install-deps fills (DEPLOY_TOOLS, default ~/.cache/allot/deploy-tools/bin); `allot` is
ALLOT_BINARY (default .build/debug/allot). ALLOT_RELEASE_TARBALL, when set, is the release tarball the
scratch-root check runs (scripts/release-check sets it); otherwise a tarball of the debug build is
packed and run with the Swift runtime added.
"""

import copy
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time

import yaml

from processes import free_port  # noqa: E402 (ops/deploy is this script's folder)

HERE = os.path.dirname(os.path.abspath(__file__))
REPOSITORY = os.path.dirname(os.path.dirname(HERE))
TOOLS = os.environ.get("DEPLOY_TOOLS", os.path.expanduser("~/.cache/allot/deploy-tools/bin"))
ALLOT = os.path.abspath(os.environ.get("ALLOT_BINARY", os.path.join(REPOSITORY, ".build/debug/allot")))
SWIFT_RUNTIME = "/opt/swift/usr/lib/swift/linux"
REGIONS = ["eu-west-1", "us-east-1", "ap-southeast-2"]
KUBERNETES_VERSION = "1.37.0"
POD_LABELS = {"app.kubernetes.io/name": "allot", "app.kubernetes.io/component": "edge"}
# Accepted checkov findings on the rendered overlays; each has its reason in the Deployment's
# annotations (checkov.io/skipN). A new finding fails; a new suppression must be added here too.
ACCEPTED_KUBERNETES_FINDINGS = {"CKV_K8S_43", "CKV_K8S_35", "CKV_K8S_15"}


class CheckFailed(Exception):
    pass


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def tool(name: str) -> str:
    path = os.path.join(TOOLS, name)
    if os.path.exists(path):
        return path
    found = shutil.which(name)
    expect(found is not None, f"{name} not found in {TOOLS} or on PATH: run scripts/install-deps")
    return found


def run(arguments: list[str], check: bool = True, **options) -> subprocess.CompletedProcess:
    options.setdefault("capture_output", True)
    options.setdefault("text", True)
    options.setdefault("timeout", 300)
    result = subprocess.run(arguments, **options)
    if check and result.returncode != 0:
        raise CheckFailed(f"{' '.join(arguments)} exited {result.returncode}:\n{result.stdout}{result.stderr}")
    return result


def scratch(label: str) -> str:
    return tempfile.mkdtemp(prefix=f"allot-deploy-{label}-")


# ---------------------------------------------------------------------------------------------
# Release build: packaging, stamping, linkage


def check_release() -> None:
    """release.sh packs a binary reproducibly, stamps it, lists SHA-256s, and refuses what it must."""
    work = scratch("release")
    try:
        commit, date = "0123456789abcdef0123456789abcdef01234567", "2026-12-01T12:00:00Z"
        tarballs = []
        for attempt in ["a", "b"]:
            out = os.path.join(work, attempt)
            run([os.path.join(HERE, "release.sh"), "--binary", ALLOT, "--allow-dynamic-swift", "--out", out,
                 "--commit", commit, "--date", date], cwd=REPOSITORY)
            names = sorted(name for name in os.listdir(out) if name.endswith(".tar.gz"))
            expect(len(names) == 1 and re.fullmatch(r"allot-\d+\.\d+\.\d+-linux-[a-z0-9_]+\.tar\.gz", names[0]),
                   f"expected one allot-VERSION-linux-ARCH.tar.gz, found {names}")
            tarballs.append(os.path.join(out, names[0]))
            sums = run(["sha256sum", "-c", "SHA256SUMS"], cwd=out).stdout
            expect(f"{names[0]}: OK" in sums, f"SHA256SUMS does not verify the tarball: {sums}")
        with open(tarballs[0], "rb") as first, open(tarballs[1], "rb") as second:
            expect(first.read() == second.read(), "two packings of the same binary and commit differ (not reproducible)")
        print("packed twice: byte-identical; SHA256SUMS verifies")

        with tarfile.open(tarballs[0]) as archive:
            members = archive.getmembers()
            top = os.path.basename(tarballs[0])[: -len(".tar.gz")]
            files = sorted(member.name[len(top) + 1:] for member in members if member.isfile())
            expect(files == sorted([
                "bin/allot", "lib/systemd/system/allot-serve.service", "share/allot/allot-serve.env",
                "share/allot/runtime-libraries.txt", "share/allot/allot-alerts.yml", "share/allot/allot-exposure-alerts.yml",
                "share/allot/allot-dashboard.json",
                "share/allot/BUILD", "share/doc/allot/README.md", "share/doc/allot/deploy.md", "share/doc/allot/server.md",
            ]), f"unexpected tarball contents: {files}")
            expect(all(member.uid == 0 and member.gid == 0 and member.mtime == 1796126400 for member in members),
                   "tarball entries must be owned by 0:0 with the commit time as mtime")
            expect(all(member.name.startswith(top + "/") or member.name == top for member in members), "entries outside the top directory")
            archive.extractall(work, filter="data")
        binary = os.path.join(work, top, "bin", "allot")
        # The first line is the version; the lines after it name the formats the build reads and writes.
        version = run([binary, "--version"], env=dict(os.environ, LD_LIBRARY_PATH=SWIFT_RUNTIME)).stdout.splitlines()[0].strip()
        expect(version.endswith(f"(commit {commit}, {date})") and top.startswith(f"allot-{version.split()[0]}-"),
               f"the packed binary says '{version}', the tarball is {top}")
        build = open(os.path.join(work, top, "share/allot/BUILD")).read()
        expect(f"commit {commit}" in build and "needed " in build and "glibc GLIBC_" in build, f"BUILD: {build}")
        print(f"the packed binary: {version}")

        # The stamp is the only difference between the stripped binary and the packed one.
        stripped = os.path.join(work, "stripped")
        run(["strip", "--strip-all", "-o", stripped, ALLOT])
        section = run(["readelf", "-S", "--wide", stripped]).stdout
        match = re.search(r"allot_build_stamp\s+PROGBITS\s+[0-9a-f]+\s+([0-9a-f]+)\s+([0-9a-f]+)", section)
        expect(match is not None, "no allot_build_stamp section in the binary")
        offset, size = int(match.group(1), 16), int(match.group(2), 16)
        with open(stripped, "rb") as one, open(binary, "rb") as two:
            a, b = one.read(), two.read()
        differences = [index for index in range(min(len(a), len(b))) if a[index] != b[index]] if len(a) == len(b) else None
        expect(differences is not None and differences and all(offset <= i < offset + size for i in differences),
               f"the stamped binary differs outside its stamp section ({offset:#x}+{size})")
        print(f"stamp: {len(differences)} bytes changed, all inside the section at {offset:#x}")

        # Refusals: a dynamically linked Swift runtime, a bad commit. Nothing is written.
        out = os.path.join(work, "refused")
        refused = run([os.path.join(HERE, "release.sh"), "--binary", ALLOT, "--out", out, "--commit", commit, "--date", date],
                      check=False, cwd=REPOSITORY)
        expect(refused.returncode == 1 and "libswiftCore.so" in refused.stderr and not os.path.exists(out),
               f"release.sh accepted a binary linking the Swift runtime dynamically: {refused.returncode} {refused.stderr}")
        refused = run([os.path.join(HERE, "release.sh"), "--binary", ALLOT, "--allow-dynamic-swift", "--out", out,
                       "--commit", "not-a-commit", "--date", date], check=False, cwd=REPOSITORY)
        expect(refused.returncode == 1 and "not 40 lowercase hex" in refused.stderr and not os.path.exists(out),
               f"release.sh accepted a bad commit: {refused.returncode} {refused.stderr}")
        refused = run([os.path.join(HERE, "release.sh"), "--bogus"], check=False, cwd=REPOSITORY)
        expect(refused.returncode == 64, f"an unknown argument should exit 64, not {refused.returncode}")
        print("refused: dynamic Swift runtime (names libswiftCore.so), a bad commit, an unknown argument")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def check_stamp() -> None:
    """The stamp reader: unstamped, stamped, and garbage in the section; the writer refuses non-allot files."""
    work = scratch("stamp")
    try:
        binary = os.path.join(work, "allot")
        shutil.copy2(ALLOT, binary)
        stamp = os.path.join(HERE, "stamp-build.py")
        expect("development build" in run([binary, "--version"]).stdout, "an unstamped build should say so")
        section = run(["readelf", "-S", "--wide", binary]).stdout
        offset = int(re.search(r"allot_build_stamp\s+PROGBITS\s+[0-9a-f]+\s+([0-9a-f]+)", section).group(1), 16)
        cases = {
            b"commit=" + b"a" * 40 + b"\ndate=2026-12-01T00:00:00Z\n": "(commit " + "a" * 40 + ", 2026-12-01T00:00:00Z)",
            b"commit=" + b"a" * 40 + b"-dirty\ndate=2026-12-01T00:00:00Z\nbuilder=ci\n": "-dirty, 2026-12-01",
            b"commit=" + b"a" * 40 + b"\n": "build stamp unreadable",                       # no date
            b"commit=xyz\ndate=2026-12-01T00:00:00Z\n": "build stamp unreadable",          # not a commit
            b"commit=" + b"a" * 40 + b"\ndate=2026-12-01T00:00:00Z": "build stamp unreadable",  # no final LF
            b"\xff\xfe garbage": "build stamp unreadable",
            b"commit=" + b"a" * 40 + b"\ndate=2026-12-01T00:00:00Z\n\0junk": "build stamp unreadable",  # bytes after the end
            b"\n" * 256: "build stamp unreadable",                                          # no room for the NUL
        }
        for raw, expected in cases.items():
            with open(binary, "r+b") as file:
                file.seek(offset)
                file.write(raw[:256].ljust(256, b"\0"))
            said = run([binary, "--version"]).stdout
            expect(expected in said, f"stamp {raw[:60]!r}: expected '{expected}' in '{said.strip()}'")
        print(f"{len(cases)} stamps read as expected")
        for target, reason in [("/etc/hostname", "not an ELF"), (shutil.which("true"), "found 0")]:
            copied = os.path.join(work, "target")
            shutil.copy2(target, copied)
            before = open(copied, "rb").read()
            result = run([sys.executable, stamp, copied, "--commit", "a" * 40, "--date", "2026-12-01T00:00:00Z"], check=False)
            expect(result.returncode == 1 and reason in result.stderr and open(copied, "rb").read() == before,
                   f"stamp-build on {target}: {result.returncode} {result.stderr}")
        result = run([sys.executable, stamp, binary, "--commit", "a" * 40, "--date", "yesterday"], check=False)
        expect(result.returncode == 2, f"a bad --date should exit 2, not {result.returncode}")
        print("stamp-build refuses a non-ELF file, an ELF without the section, and a bad date, changing nothing")
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Kubernetes


def render(overlay: str) -> list[dict]:
    output = run([tool("kubectl"), "kustomize", os.path.join(HERE, "kubernetes", "overlays", overlay)]).stdout
    return [document for document in yaml.safe_load_all(output) if document]


def kubernetes_validate(documents: list[dict], work: str, name: str) -> subprocess.CompletedProcess:
    path = os.path.join(work, f"{name}.yaml")
    with open(path, "w") as file:
        yaml.safe_dump_all(documents, file)
    return run([tool("kubernetes-validate"), "--strict", "-k", KUBERNETES_VERSION, "--quiet", path], check=False)


# The two prometheus-operator kinds have no schema in kubernetes-validate; these are the fields we
# use, from the operator's API reference (monitoring.coreos.com/v1), additional fields refused.
OPERATOR_SCHEMAS = {
    "ServiceMonitor": {
        "type": "object", "additionalProperties": False, "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"}, "kind": {"const": "ServiceMonitor"}, "metadata": {"type": "object"},
            "spec": {"type": "object", "additionalProperties": False, "required": ["selector", "endpoints"], "properties": {
                "selector": {"type": "object", "properties": {"matchLabels": {"type": "object"}}},
                "endpoints": {"type": "array", "minItems": 1, "items": {"type": "object", "additionalProperties": False, "properties": {
                    "port": {"type": "string"}, "path": {"type": "string"},
                    "interval": {"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"},
                    "scrapeTimeout": {"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"},
                    "relabelings": {"type": "array", "items": {"type": "object", "additionalProperties": False, "properties": {
                        "sourceLabels": {"type": "array", "items": {"type": "string"}}, "targetLabel": {"type": "string"},
                        "action": {"enum": ["replace", "keep", "drop", "labelmap", "labeldrop", "labelkeep"]}}}}}}}}}}},
    "PrometheusRule": {
        "type": "object", "additionalProperties": False, "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"}, "kind": {"const": "PrometheusRule"}, "metadata": {"type": "object"},
            "spec": {"type": "object", "additionalProperties": False, "required": ["groups"], "properties": {
                "groups": {"type": "array", "items": {"type": "object", "required": ["name", "rules"]}}}}}},
}


def check_kubernetes() -> None:
    """The overlays render (kustomize), validate strictly against Kubernetes 1.37, and say what they mean."""
    import jsonschema

    work = scratch("kubernetes")
    try:
        stores_seen = []
        for region in REGIONS:
            documents = render(region)
            kinds = sorted(document["kind"] for document in documents)
            expect(kinds == sorted(["ServiceAccount", "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget",
                                    "NetworkPolicy", "ServiceMonitor", "PrometheusRule"]), f"{region}: kinds {kinds}")
            core = [d for d in documents if d["kind"] not in OPERATOR_SCHEMAS]
            result = kubernetes_validate(core, work, region)
            expect(result.returncode == 0 and "ERROR" not in result.stdout + result.stderr,
                   f"{region}: kubernetes-validate --strict {KUBERNETES_VERSION}:\n{result.stdout}{result.stderr}")
            for document in documents:
                if document["kind"] in OPERATOR_SCHEMAS:
                    jsonschema.validate(document, OPERATOR_SCHEMAS[document["kind"]])
                expect(document["metadata"].get("namespace") == "allot", f"{region}: {document['kind']} not in namespace allot")
                expect(document["metadata"]["labels"].get("allot.dev/region") == region, f"{region}: {document['kind']} lacks its region label")
            by_kind = {document["kind"]: document for document in documents}
            deployment = by_kind["Deployment"]
            pod = deployment["spec"]["template"]
            container = pod["spec"]["containers"][0]
            arguments = container["args"]

            # The region's store first, the others as fallbacks.
            stores = [a.split("=", 1)[1] for a in arguments if a.startswith("--store=")]
            fallbacks = [a.split("=", 1)[1] for a in arguments if a.startswith("--fallback-store=")]
            expect(stores == [f"s3://allot-{region}/prod?region={region}"], f"{region}: --store {stores}")
            expect(sorted(fallbacks) == sorted(f"s3://allot-{r}/prod?region={r}" for r in REGIONS if r != region),
                   f"{region}: fallbacks {fallbacks}")
            stores_seen.append(stores[0])

            # Selectors select the pods, and nothing else.
            expect(deployment["spec"]["selector"]["matchLabels"] == POD_LABELS, f"{region}: Deployment selector")
            expect(all(pod["metadata"]["labels"].get(k) == v for k, v in POD_LABELS.items()), f"{region}: pod labels")
            expect(by_kind["Service"]["spec"]["selector"] == POD_LABELS, f"{region}: Service selector")
            expect(by_kind["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == POD_LABELS, f"{region}: PDB selector")
            policy = by_kind["NetworkPolicy"]["spec"]
            expect(policy["podSelector"]["matchLabels"] == POD_LABELS, f"{region}: NetworkPolicy podSelector")
            dns = [peer for rule in policy["egress"] for peer in rule.get("to", [])]
            expect(dns and all(peer["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"} for peer in dns),
                   f"{region}: the DNS egress rule must select kube-dns pods only: {dns}")
            expect(by_kind["ServiceMonitor"]["spec"]["selector"]["matchLabels"] == POD_LABELS, f"{region}: ServiceMonitor selector")
            port_names = {port["name"] for port in by_kind["Service"]["spec"]["ports"]}
            expect(all(endpoint["port"] in port_names for endpoint in by_kind["ServiceMonitor"]["spec"]["endpoints"]),
                   f"{region}: ServiceMonitor port not in the Service")
            for constraint in pod["spec"]["topologySpreadConstraints"]:
                expect(constraint["labelSelector"]["matchLabels"] == POD_LABELS, f"{region}: spread selector")
            expect({c["topologyKey"] for c in pod["spec"]["topologySpreadConstraints"]} >= {"topology.kubernetes.io/zone"},
                   f"{region}: no zone spread")

            # Probes, ports, volumes, trust and credentials.
            expect(container["readinessProbe"]["httpGet"]["path"] == "/readyz", f"{region}: readiness must be /readyz")
            expect(container["livenessProbe"]["httpGet"]["path"] == "/healthz", f"{region}: liveness must be /healthz")
            listen = [a for a in arguments if a.startswith("--listen=")]
            expect(listen == ["--listen=0.0.0.0:8080"] and container["ports"][0]["containerPort"] == 8080, f"{region}: {listen}")
            mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
            volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
            expect(f"--cache-dir={'/var/cache/allot'}" in arguments and "emptyDir" in volumes[mounts["/var/cache/allot"]["name"]],
                   f"{region}: the cache is not on its volume")
            keys = [a.split("=", 1)[1] for a in arguments if a.startswith("--trusted-key=")]
            expect(keys and all(os.path.dirname(k) == "/etc/allot/keys" for k in keys) and mounts["/etc/allot/keys"]["readOnly"]
                   and volumes[mounts["/etc/allot/keys"]["name"]]["configMap"]["name"] == "allot-trusted-keys",
                   f"{region}: trusted keys must come from the allot-trusted-keys ConfigMap")
            expect(container["envFrom"] == [{"secretRef": {"name": "allot-store-credentials"}}], f"{region}: credentials")
            security = container["securityContext"]
            expect(security["readOnlyRootFilesystem"] and not security["allowPrivilegeEscalation"]
                   and security["capabilities"]["drop"] == ["ALL"] and pod["spec"]["securityContext"]["runAsNonRoot"],
                   f"{region}: container security context")

            # Resources: CPU matches the event loops; requests equal limits (Guaranteed).
            resources = container["resources"]
            expect(resources["requests"] == resources["limits"], f"{region}: requests differ from limits")
            threads = [int(a.split("=")[1]) for a in arguments if a.startswith("--threads=")]
            expect(threads == [int(resources["limits"]["cpu"])], f"{region}: --threads {threads} vs {resources['limits']['cpu']} CPU")
            grace = pod["spec"]["terminationGracePeriodSeconds"]
            expect(grace > container["lifecycle"]["preStop"]["sleep"]["seconds"] + 10, f"{region}: grace {grace} s too short")

            # The autoscaler scales this Deployment on CPU, from the capacity table's fleet upward.
            hpa = by_kind["HorizontalPodAutoscaler"]["spec"]
            expect(hpa["scaleTargetRef"]["name"] == deployment["metadata"]["name"], f"{region}: HPA target")
            expect(hpa["metrics"][0]["resource"]["name"] == "cpu" and hpa["minReplicas"] == 5 and hpa["maxReplicas"] >= 9,
                   f"{region}: HPA {hpa}")
            expect("replicas" not in deployment["spec"], f"{region}: replicas in the Deployment would fight the autoscaler")
            print(f"{region}: {len(documents)} objects valid; store {stores[0]}, fallbacks {', '.join(fallbacks)}")
        expect(len(set(stores_seen)) == len(REGIONS), "two overlays use the same primary store")

        # The validator is strict: a misspelt field is refused.
        broken = copy.deepcopy(core)
        for document in broken:
            if document["kind"] == "Deployment":
                document["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
        result = kubernetes_validate(broken, work, "broken")
        expect(result.returncode != 0, "kubernetes-validate --strict accepted a misspelt field")
        try:
            jsonschema.validate({**by_kind["ServiceMonitor"], "spec": {"selector": {}, "endpoints": [{"prot": "http"}]}},
                                OPERATOR_SCHEMAS["ServiceMonitor"])
            raise CheckFailed("the ServiceMonitor schema accepted a misspelt field")
        except jsonschema.ValidationError:
            pass
        print("a misspelt field is refused by both validators")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def checkov(arguments: list[str]) -> dict:
    result = run([tool("checkov"), *arguments, "--skip-download", "--output", "json", "--compact"], check=False)
    try:
        report = json.loads(result.stdout)
    except ValueError:
        raise CheckFailed(f"checkov printed no JSON (exit {result.returncode}):\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    reports = report if isinstance(report, list) else [report]
    merged = {"failed": [], "skipped": [], "passed": 0}
    for one in reports:
        results = one.get("results", {})
        merged["failed"] += results.get("failed_checks", [])
        merged["skipped"] += results.get("skipped_checks", [])
        merged["passed"] += one.get("summary", {}).get("passed", 0)
    return merged


def check_checkov_kubernetes() -> None:
    """checkov finds nothing in the rendered overlays but the accepted findings, each with a reason."""
    work = scratch("checkov")
    try:
        for region in REGIONS:
            with open(os.path.join(work, f"{region}.yaml"), "w") as file:
                yaml.safe_dump_all(render(region), file)
        report = checkov(["--directory", work, "--framework", "kubernetes"])
        failed = sorted({f"{c['check_id']} {c['check_name']} ({c['resource']})" for c in report["failed"]})
        expect(not failed, "checkov findings:\n  " + "\n  ".join(failed))
        skipped = {c["check_id"]: (c.get("check_result") or {}).get("suppress_comment", "") for c in report["skipped"]}
        expect(set(skipped) == ACCEPTED_KUBERNETES_FINDINGS, f"suppressed {sorted(skipped)}, expected {sorted(ACCEPTED_KUBERNETES_FINDINGS)}")
        expect(all(len(reason) > 20 for reason in skipped.values()), f"a suppression without a reason: {skipped}")
        expect(report["passed"] > 50, f"checkov ran only {report['passed']} checks")
        print(f"checkov: {report['passed']} passed, 0 failed, suppressed: " + "; ".join(f"{k}: {v}" for k, v in sorted(skipped.items())))
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Container


def check_container() -> None:
    """The container build file: hadolint and checkov find nothing; the runtime stage installs the linked libraries."""
    dockerfile = os.path.join(HERE, "container", "Dockerfile")
    result = run([tool("hadolint"), dockerfile], check=False)
    expect(result.returncode == 0 and not result.stdout.strip(), f"hadolint:\n{result.stdout}{result.stderr}")
    # The one rule ignored in the file (DL3008, apt versions not pinned) is the only one hadolint raises.
    bare = run([tool("hadolint"), "--ignore", "DL3008", "-"], check=False,
               input=open(dockerfile).read().replace("# hadolint ignore=DL3008\n", ""))
    expect(bare.returncode == 0, f"hadolint finds more than DL3008 without the inline ignores:\n{bare.stdout}")
    unignored = run([tool("hadolint"), "-"], check=False, input=open(dockerfile).read().replace("# hadolint ignore=DL3008\n", ""))
    expect("DL3008" in unignored.stdout, "hadolint no longer raises DL3008: remove the inline ignores")
    report = checkov(["--file", dockerfile, "--framework", "dockerfile"])
    expect(not report["failed"], "checkov: " + ", ".join(c["check_id"] for c in report["failed"]))
    expect(not report["skipped"], "checkov suppressions in the Dockerfile: " + ", ".join(c["check_id"] for c in report["skipped"]))
    print(f"hadolint: clean (DL3008 ignored with its reason); checkov: {report['passed']} passed, 0 failed")

    sys.path.insert(0, os.path.join(HERE, "container"))
    scratch_root = __import__("scratch-root")
    stage = scratch_root.runtime_stage(dockerfile)
    libraries = [line.split() for line in open(os.path.join(HERE, "runtime-libraries.txt")) if line.strip() and not line.startswith("#")]
    # libc6 and what it depends on (libgcc-s1) are in every Debian image: the base provides them.
    base = set(scratch_root.package_closure(["libc6"]))
    wanted = {package for _, package, *_ in libraries} - base
    expect(set(stage["packages"]) == wanted | {"ca-certificates", "curl"},
           f"the runtime stage installs {sorted(stage['packages'])}; runtime-libraries.txt needs {sorted(wanted)} "
           f"beyond the base's {sorted(base)} (+ ca-certificates, curl)")
    expect(stage["user"] not in ("0", "root") and not stage["user"].startswith("0:"), "the image runs as root")
    expect(stage["volumes"] == ["/var/cache/allot"] and "--cache-dir=/var/cache/allot" in stage["cmd"], "the cache is not the volume")
    expect(stage["healthcheck"][-1].endswith("/healthz"), f"HEALTHCHECK {stage['healthcheck']}")
    expect(stage["copies"] == [("/staging/bin/allot", "/usr/local/bin/allot")] and stage["entrypoint"] == ["/usr/local/bin/allot"],
           f"COPY {stage['copies']} ENTRYPOINT {stage['entrypoint']}")
    print(f"runtime stage: {' '.join(stage['packages'])} as {stage['user']}, volume {stage['volumes'][0]}")


def check_scratch_root() -> None:
    """The image's runtime stage, reproduced in a scratch root, serves from a real S3 store."""
    tarball = os.environ.get("ALLOT_RELEASE_TARBALL")
    work = scratch("scratch-root")
    try:
        extra = []
        if not tarball:
            run([os.path.join(HERE, "release.sh"), "--binary", ALLOT, "--allow-dynamic-swift", "--out", work,
                 "--commit", "0" * 40, "--date", "2026-12-01T00:00:00Z"], cwd=REPOSITORY)
            tarball = [os.path.join(work, n) for n in os.listdir(work) if n.endswith(".tar.gz")][0]
            extra = ["--swift-runtime", SWIFT_RUNTIME, "--allot", ALLOT]
            print("debug build packed; the Swift runtime is added to the root (a release tarball links it statically)")
        result = run([sys.executable, os.path.join(HERE, "container", "scratch-root.py"), "--tarball", tarball, *extra], check=False)
        print(result.stdout.strip())
        expect(result.returncode == 0, f"scratch-root.py exited {result.returncode}:\n{result.stderr}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# systemd


def verify_unit(unit_text: str, work: str) -> str:
    """systemd-analyze verify in a root holding the unit, systemd's own units and the binary ExecStart names."""
    root = os.path.join(work, "root")
    if not os.path.exists(root):
        os.makedirs(os.path.join(root, "usr/local/bin"))
        os.makedirs(os.path.join(root, "etc/systemd/system"))
        shutil.copytree("/lib/systemd/system", os.path.join(root, "usr/lib/systemd/system"), symlinks=True)
        shutil.copy2(ALLOT, os.path.join(root, "usr/local/bin/allot"))
    with open(os.path.join(root, "etc/systemd/system/allot-serve.service"), "w") as file:
        file.write(unit_text)
    result = run(["systemd-analyze", "verify", f"--root={root}", "allot-serve.service"], check=False)
    return (result.stdout + result.stderr).strip() + ("" if result.returncode == 0 else f"\n(exit {result.returncode})")


def check_systemd() -> None:
    """systemd-analyze verifies the unit without a word, and rates its exposure OK; the env example covers ExecStart."""
    work = scratch("systemd")
    try:
        unit = open(os.path.join(HERE, "systemd", "allot-serve.service")).read()
        said = verify_unit(unit, work)
        expect(said == "", f"systemd-analyze verify:\n{said}")
        # verify exits 0 on settings it ignores: only silence counts, as this broken copy shows.
        said = verify_unit(unit.replace("LimitNOFILE=10240", "LimitNOFILE=lots"), work)
        expect("LimitNOFILE" in said or "lots" in said, f"verify did not notice a bad setting: {said!r}")
        security = run(["systemd-analyze", "security", "--offline=true",
                        os.path.join(HERE, "systemd", "allot-serve.service")], check=False)
        match = re.search(r"Overall exposure level for allot-serve\.service: ([0-9.]+) (\w+)", security.stdout + security.stderr)
        expect(match is not None and float(match.group(1)) <= 2.0, f"systemd-analyze security: {security.stdout[-600:]}")
        print(f"verify: silent; security: exposure {match.group(1)} {match.group(2)}")

        sys.path.insert(0, os.path.join(HERE, "systemd"))
        unit_tool = __import__("exec-unit")
        settings = unit_tool.parse_unit(os.path.join(HERE, "systemd", "allot-serve.service"))
        example = unit_tool.read_environment_file(os.path.join(HERE, "systemd", "allot-serve.env"))
        command = unit_tool.expand(settings["ExecStart"][-1], example)
        connections = int(command[command.index("--max-connections") + 1])
        limit = int(settings["LimitNOFILE"][-1])
        expect(limit >= connections + 64, f"LimitNOFILE={limit} leaves too little above --max-connections {connections}")
        for key in ["DynamicUser", "NoNewPrivileges", "PrivateTmp"]:
            expect(settings.get(key) == ["yes"], f"{key} is not yes")
        expect(settings.get("ProtectSystem") == ["strict"] and settings.get("CacheDirectory") == ["allot"], "ProtectSystem/CacheDirectory")
        expect(settings.get("Restart") == ["always"] and settings.get("RestartPreventExitStatus") == ["64"], "restart policy")
        print(f"ExecStart with the example environment: {' '.join(command[1:])}")
    finally:
        shutil.rmtree(work, ignore_errors=True)




def http_get(port: int, path: str) -> tuple[int, str]:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError as error:
        return 0, str(error)


def start_unit(work: str, port: int, extra: list[str]) -> subprocess.Popen:
    env_file = os.path.join(work, "serve.env")
    with open(env_file, "w") as file:
        file.write(f"ALLOT_STORE={work}/store\nALLOT_FALLBACK_STORES=\n"
                   f"ALLOT_TRUSTED_KEYS=--trusted-key {work}/keys/signing.pub\nALLOT_LISTEN=127.0.0.1:{port}\n")
    log = open(os.path.join(work, f"unit-{port}.log"), "w")
    return subprocess.Popen([sys.executable, os.path.join(HERE, "systemd", "exec-unit.py"), "--environment-file", env_file,
                             "--binary", os.path.join(work, "allot"), "--cache-root", os.path.join(work, "cache-root"), *extra],
                            stdout=log, stderr=log)


def stop(process: subprocess.Popen) -> int:
    """SIGTERM to exec-unit.py, which forwards it; the server itself is killed if it outlives the wrapper."""
    server = getattr(process, "server_pid", None)
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            if server is not None:
                try:
                    os.kill(server, 9)
                except ProcessLookupError:
                    pass
    return process.wait()


def wait_ready(port: int, process: subprocess.Popen, work: str) -> str:
    deadline = time.time() + 30
    while time.time() < deadline:
        status, body = http_get(port, "/readyz")
        if status == 200:
            listening = re.search(r"pid=(\d+)", run(["ss", "-ltnpH", f"sport = :{port}"]).stdout)
            process.server_pid = int(listening.group(1)) if listening else None
            return body
        expect(process.poll() is None, f"the unit's server exited {process.returncode}:\n" + "".join(
            open(os.path.join(work, n)).read() for n in os.listdir(work) if n.endswith(".log")))
        time.sleep(0.2)
    raise CheckFailed("the unit's server did not become ready in 30 s")


def check_systemd_run() -> None:
    """The unit's ExecStart, run by hand as systemd would (no systemd here): serves; the descriptor headroom holds."""
    # /var/tmp, not /tmp: the unit has a private /tmp, as PrivateTmp= gives it.
    work = tempfile.mkdtemp(prefix="allot-deploy-unit-", dir="/var/tmp")
    os.chmod(work, 0o755)
    processes = []
    try:
        run([ALLOT, "keygen", "--out", "keys"], cwd=work)
        shutil.copytree(os.path.join(REPOSITORY, "experiments"), os.path.join(work, "experiments"))
        run([ALLOT, "compile", "--signing-key", "keys/signing.key", "--version", "5", "--created-at", "2026-12-01T00:00:00Z",
             "--output", "5.bundle"], cwd=work)
        run([ALLOT, "publish", "5.bundle", "--signing-key", "keys/signing.key", "--store", f"{work}/store"], cwd=work)
        # The unit's private /tmp hides a checkout under /tmp (a CI workspace may be one): the
        # unit runs a copy of the binary from its own folder, as an installed one would be.
        shutil.copy2(ALLOT, os.path.join(work, "allot"))
        run(["chmod", "-R", "a+rX", work])

        port = free_port()
        unit = start_unit(work, port, [])
        processes.append(unit)
        body = wait_ready(port, unit, work)
        expect('"version":5' in body, f"/readyz: {body}")
        pid = unit.server_pid
        status = open(f"/proc/{pid}/status").read()
        limits = open(f"/proc/{pid}/limits").read()
        expect(re.search(r"^Uid:\s+61873\s", status, re.M) and re.search(r"^NoNewPrivs:\s+1", status, re.M),
               "the server does not run as the dynamic user with no new privileges")
        expect(re.search(r"Max open files\s+10240\s+10240", limits), f"LimitNOFILE not applied:\n{limits}")
        descriptors = len(os.listdir(f"/proc/{pid}/fd"))
        cached = os.listdir(os.path.join(work, "cache-root", "allot"))
        expect(any(name.endswith(".bundle") for name in cached), f"the cache directory holds {cached}")
        code = stop(unit)
        expect(code == 0, f"SIGTERM: exit status {code}:\n" + open(os.path.join(work, f"unit-{port}.log")).read()[-3000:])
        print(f"ExecStart by hand: ready on version 5 as uid 61873, NoNewPrivs, LimitNOFILE 10240, "
              f"{descriptors} descriptors open idle, cache written to CacheDirectory")

        # The unit's headroom above --max-connections (LimitNOFILE − 10,000), at a small scale: with the
        # same headroom, connection cap + 1 gets its 503; with almost none, the server refuses to start
        # and says why (the engine keeps reservedDescriptors plus its own for itself).
        headroom = 10240 - 10000
        port = free_port()
        unit = start_unit(work, port, ["--set", f"LimitNOFILE={40 + headroom}", "--replace-arg=--max-connections=40"])
        processes.append(unit)
        wait_ready(port, unit, work)
        sockets = [socket.create_connection(("127.0.0.1", port), timeout=2) for _ in range(40)]
        time.sleep(0.5)
        extra = socket.create_connection(("127.0.0.1", port), timeout=2)
        extra.settimeout(3)
        try:
            answer = extra.recv(200).decode(errors="replace")
        except socket.timeout:
            answer = ""
        for connection in sockets + [extra]:
            connection.close()
        stop(unit)
        expect(answer.startswith("HTTP/1.1 503") and "too_many_connections" in answer,
               f"LimitNOFILE={40 + headroom}: connection 41 got {answer[:80]!r}, not the 503")

        port = free_port()
        unit = start_unit(work, port, ["--set", "LimitNOFILE=48", "--replace-arg=--max-connections=40"])
        processes.append(unit)
        try:
            code = unit.wait(timeout=30)
        except subprocess.TimeoutExpired:
            raise CheckFailed("LimitNOFILE=48: the server started though the limit leaves no room for connections")
        said = open(os.path.join(work, f"unit-{port}.log")).read()
        expect(code == 4 and "open-descriptor limit (48" in said and "reservedDescriptors" in said,
               f"LimitNOFILE=48: expected exit 4 naming the descriptor limit, got {code}:\n{said[-2000:]}")
        print(f"descriptor headroom {headroom}: connection cap + 1 gets 503 too_many_connections; "
              f"with 8 the server refuses to start, exit 4, naming the limit (why LimitNOFILE must exceed --max-connections)")
    finally:
        for process in processes:
            stop(process)
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Store credentials, monitoring, docs


def check_iam() -> None:
    """The publisher and server policies, enforced by moto's IAM, against the real allot."""
    result = run([sys.executable, os.path.join(HERE, "iam", "check-policies.py"), "--allot", ALLOT], check=False)
    print(result.stdout.strip())
    expect(result.returncode == 0, f"check-policies.py exited {result.returncode}:\n{result.stderr}")
    for name in ["publisher-policy.json", "server-policy.json"]:
        policy = json.load(open(os.path.join(HERE, "iam", name)))
        actions = {action for statement in policy["Statement"] for action in statement["Action"]}
        expect(policy["Version"] == "2012-10-17" and all(s["Effect"] == "Allow" for s in policy["Statement"]), f"{name}: shape")
        expect(not any("*" in action for action in actions) and "s3:DeleteObject" not in actions, f"{name}: actions {actions}")
        resources = [r for s in policy["Statement"] for r in s["Resource"]]
        expect(all(r.startswith("arn:aws:s3:::allot-") and r != "arn:aws:s3:::*" for r in resources), f"{name}: resources")
    server_actions = {a for s in json.load(open(os.path.join(HERE, "iam", "server-policy.json")))["Statement"] for a in s["Action"]}
    expect(server_actions == {"s3:GetObject", "s3:ListBucket"}, f"the server policy grants {server_actions}")


def check_prometheus() -> None:
    """The scrape configs and the PrometheusRule load in promtool; the rule object matches the shipped rules."""
    for name in ["scrape-vm.yml", "scrape-kubernetes.yml"]:
        path = os.path.join(HERE, "prometheus", name)
        text = open(path).read()
        if "kubernetes_sd_configs" in text:
            # Debian's promtool is built without Kubernetes discovery: check everything else with the
            # discovery block swapped for a static target of the same shape.
            config = yaml.safe_load(text)
            for job in config["scrape_configs"]:
                sd = job.pop("kubernetes_sd_configs")
                expect(sd[0]["role"] == "pod" and sd[0]["namespaces"]["names"] == ["allot"], f"{name}: discovery {sd}")
                job["static_configs"] = [{"targets": ["127.0.0.1:8080"]}]
            config["rule_files"] = [os.path.normpath(os.path.join(os.path.dirname(path), f)) for f in config["rule_files"]]
            path = os.path.join(tempfile.mkdtemp(prefix="allot-deploy-prom-"), name)
            with open(path, "w") as file:
                yaml.safe_dump(config, file)
        result = run(["promtool", "check", "config", path], check=False, cwd=os.path.join(HERE, "prometheus"))
        expect(result.returncode == 0 and "SUCCESS" in result.stdout + result.stderr, f"promtool {name}:\n{result.stdout}{result.stderr}")
    run([sys.executable, os.path.join(HERE, "kubernetes", "monitoring", "sync-rules.py"), "--check"])
    rule = yaml.safe_load(open(os.path.join(HERE, "kubernetes", "monitoring", "prometheusrule.yaml")))
    shipped = []
    for name in ("allot-alerts.yml", "allot-exposure-alerts.yml"):
        shipped += yaml.safe_load(open(os.path.join(REPOSITORY, "ops", "prometheus", name)))["groups"]
    expect(rule["spec"]["groups"] == shipped, "the PrometheusRule's groups differ from ops/prometheus/allot-*alerts.yml")
    work = scratch("rules")
    try:
        path = os.path.join(work, "rules.yml")
        with open(path, "w") as file:
            yaml.safe_dump(rule["spec"], file)
        run(["promtool", "check", "rules", path])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("promtool: both scrape configs and the PrometheusRule's rules are valid; the rule object is in sync")


CHECKS = {
    "release": check_release,
    "stamp": check_stamp,
    "kubernetes": check_kubernetes,
    "checkov-kubernetes": check_checkov_kubernetes,
    "container": check_container,
    "scratch-root": check_scratch_root,
    "systemd": check_systemd,
    "systemd-run": check_systemd_run,
    "iam": check_iam,
    "prometheus": check_prometheus,
}


def main() -> int:
    names = sys.argv[1:]
    if names == ["--list"]:
        print("\n".join(CHECKS))
        return 0
    unknown = [name for name in names if name not in CHECKS]
    if not names or unknown:
        print(f"usage: check.py NAME…  (names: {', '.join(CHECKS)})", file=sys.stderr)
        return 64
    for name in names:
        print(f"== {name}: {CHECKS[name].__doc__}")
        try:
            CHECKS[name]()
        except CheckFailed as failure:
            print(f"FAILED {name}: {failure}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
