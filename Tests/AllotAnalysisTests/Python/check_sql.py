#!/usr/bin/env python3
"""Checks `allot analyze --emit-sql` (run by AllotAnalysisTests).

  check_sql.py duckdb REPORT.json QUERY.sql
      Runs the DuckDB query (DuckDB's Python package) over the same files the Swift analyzer read
      and compares every number it returns with REPORT.json (the Swift report) to 1e-9 relative.
  check_sql.py parse DIALECT QUERY.sql
      Parses the query with sqlglot in that dialect (trino, bigquery, spark); fails on any error.

Prints "N passed, N failed"; exits 1 on a failure.
"""
import json
import math
import sys

failures = []
checks = 0


def close(label, got, want):
    global checks
    checks += 1
    if got is None or want is None:
        if got is not None or want is not None:
            failures.append(f"{label}: sql {got!r}, swift {want!r}")
        return
    if got != want and abs(got - want) > 1e-9 * max(abs(got), abs(want)):
        failures.append(f"{label}: sql {got!r}, swift {want!r}")


def duckdb_check(report_path, query_path):
    import duckdb

    report = json.load(open(report_path))["experiments"][0]
    cursor = duckdb.sql(open(query_path).read())
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, r)) for r in cursor.fetchall()]
    srm = [r for r in rows if r["section"] == "sample_ratio"]
    units = {v["variant"]: v["units"] for v in report["variants"]}
    for row in srm:
        close(f"units of {row['variant']}", row["units"], units[row["variant"]])
    if report.get("sample_ratio"):
        close("chi-square", srm[0]["chi_square"], report["sample_ratio"]["statistic"])
    metric_rows = {(r["metric"], r["variant"]): r for r in rows if r["section"] == "metric"}
    if len(metric_rows) != sum(len(m["variants"]) for m in report["metrics"]):
        failures.append(f"{len(metric_rows)} metric rows, the report has {sum(len(m['variants']) for m in report['metrics'])}")
    for metric in report["metrics"]:
        for variant in metric["variants"]:
            row = metric_rows.get((metric["metric"], variant["variant"]))
            if row is None:
                failures.append(f"no row for {metric['metric']} / {variant['variant']}")
                continue
            label = f"{metric['metric']}/{variant['variant']}"
            close(label + " units", row["units"], variant["summary"]["units"])
            close(label + " mean", row["mean"], variant["summary"].get("mean"))
            close(label + " variance", row["variance"], variant["summary"].get("variance"))
        for entry in metric["comparisons"]:
            row = metric_rows[(metric["metric"], entry["variant"])]
            label = f"{metric['metric']}/{entry['variant']}"
            c = entry.get("comparison")
            close(label + " absolute", row["absolute"], c and c["absolute"]["estimate"])
            close(label + " standard error", row["standard_error"], c and c["absolute"]["standard_error"])
            close(label + " df", row["degrees_of_freedom"], c and c.get("degrees_of_freedom"))
            close(label + " statistic", row["statistic"], c and c["statistic"])
            rel = c and c.get("relative")
            close(label + " relative", row["relative"], rel and rel["estimate"])
            close(label + " relative se", row["relative_standard_error"], rel and rel["standard_error"])


def parse_check(dialect, query_path):
    global checks
    import sqlglot

    text = open(query_path).read()
    checks += 1
    try:
        statements = sqlglot.parse(text, read=dialect, error_level=sqlglot.ErrorLevel.RAISE)
        if len([s for s in statements if s is not None]) != 1:
            failures.append(f"{dialect}: {len(statements)} statements, expected 1")
    except sqlglot.errors.ParseError as error:
        failures.append(f"{dialect}: {error}")


if sys.argv[1] == "duckdb":
    duckdb_check(sys.argv[2], sys.argv[3])
else:
    parse_check(sys.argv[2], sys.argv[3])
for failure in failures:
    print("MISMATCH", failure)
print(f"{checks - len(failures)} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
