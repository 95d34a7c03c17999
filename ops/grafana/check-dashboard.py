#!/usr/bin/env python3
"""Checks a Grafana dashboard's PromQL with promtool: every panel query, with Grafana's variables
replaced by plain values, becomes a recording rule in a temporary file that `promtool check rules`
parses. A query that does not parse fails the check (and scripts/test).

    ops/grafana/check-dashboard.py ops/grafana/allot-dashboard.json
"""

import json
import os
import subprocess
import sys
import tempfile

# Grafana's variables and macros, as promtool sees them.
SUBSTITUTIONS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h", "$instance": ".*"}


def queries(dashboard):
    """(panel title, expression) for every target of every panel, rows included."""
    found = []

    def walk(panels):
        for panel in panels:
            for target in panel.get("targets", []):
                if target.get("expr"):
                    found.append((panel.get("title", "?"), target["expr"]))
            walk(panel.get("panels", []))

    walk(dashboard.get("panels", []))
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if isinstance(query, str) and query.startswith("label_values("):
            # label_values(metric, label) is Grafana's, not PromQL: check the metric selector.
            found.append(("variable " + variable["name"], query[len("label_values("):].split(",")[0]))
    return found


def main():
    path = sys.argv[1]
    with open(path) as handle:
        dashboard = json.load(handle)
    found = queries(dashboard)
    if not found:
        sys.exit("%s: no queries" % path)
    lines = ["groups:", "  - name: dashboard", "    rules:"]
    for index, (title, expression) in enumerate(found):
        for variable, value in SUBSTITUTIONS.items():
            expression = expression.replace(variable, value)
        if "$" in expression:
            sys.exit("%s: panel %r uses a variable this check does not know: %s" % (path, title, expression))
        lines.append("      - record: dashboard:query_%d" % index)
        lines.append("        expr: %s" % json.dumps(expression))
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as rules:
        rules.write("\n".join(lines) + "\n")
    try:
        result = subprocess.run(["promtool", "check", "rules", rules.name], capture_output=True, text=True)
    finally:
        os.unlink(rules.name)
    if result.returncode != 0:
        sys.exit("%s: promtool refused a query:\n%s%s" % (path, result.stdout, result.stderr))
    print("%s: %d queries parse" % (path, len(found)))


if __name__ == "__main__":
    main()
