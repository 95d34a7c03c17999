#!/usr/bin/env python3
"""Writes prometheusrule.yaml, the PrometheusRule holding ops/prometheus/allot-alerts.yml's groups.

The alert rules have one source, ops/prometheus/allot-alerts.yml (checked and unit-tested with
promtool). This copies its groups into the prometheus-operator's object; the deploy tests fail when
the two differ, so run this after changing the rules:  ops/deploy/kubernetes/monitoring/sync-rules.py
"""
import os
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
RULES = os.path.join(HERE, "..", "..", "..", "prometheus", "allot-alerts.yml")
OUTPUT = os.path.join(HERE, "prometheusrule.yaml")


def rendered() -> str:
    with open(RULES) as file:
        rules = yaml.safe_load(file)
    document = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "allot"},
        "spec": {"groups": rules["groups"]},
    }
    header = "# Generated from ops/prometheus/allot-alerts.yml by sync-rules.py: edit that file, then run this.\n"
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
