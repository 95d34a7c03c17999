#!/usr/bin/env python3
"""Writes prometheusrule.yaml, the PrometheusRule holding the groups of ops/prometheus/allot-alerts.yml
and ops/prometheus/allot-exposure-alerts.yml.

The alert rules have one source, those two files (checked and unit-tested with promtool). This
copies their groups into the prometheus-operator's object; the deploy tests fail when they differ,
so run this after changing the rules:  ops/deploy/kubernetes/monitoring/sync-rules.py
"""
import os
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
RULES = [os.path.join(HERE, "..", "..", "..", "prometheus", name) for name in ("allot-alerts.yml", "allot-exposure-alerts.yml")]
OUTPUT = os.path.join(HERE, "prometheusrule.yaml")


def rendered() -> str:
    groups = []
    for path in RULES:
        with open(path) as file:
            groups += yaml.safe_load(file)["groups"]
    document = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "allot"},
        "spec": {"groups": groups},
    }
    header = (
        "# Generated from ops/prometheus/allot-alerts.yml and allot-exposure-alerts.yml by sync-rules.py:\n"
        "# edit those files, then run this.\n"
    )
    return header + yaml.safe_dump(document, sort_keys=False, width=120)


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        with open(OUTPUT) as file:
            current = file.read()
        if current != rendered():
            print("prometheusrule.yaml is out of date: run ops/deploy/kubernetes/monitoring/sync-rules.py", file=sys.stderr)
            sys.exit(1)
        sys.exit(0)
    with open(OUTPUT, "w") as file:
        file.write(rendered())
