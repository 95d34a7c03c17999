#!/usr/bin/env python3
"""Independent checks of `allot analyze` (run by AllotAnalysisTests): recomputes every statistic
with SciPy and statsmodels, from the raw inputs, and compares with what the Swift analyzer wrote.

  check_analysis.py cases CASES.json
      CASES.json: {"distributions": [...], "comparisons": [...], "srm": [...]} written by the
      Swift test: inputs and the Swift results. Checks each to 1e-9 relative.
  check_analysis.py report SPEC.json EXPOSURES_DIR EVENTS.csv REPORT.json
      Applies docs/exposures.md's rules and docs/analysis.md's definitions to the files with its
      own reader and compares every number of REPORT.json (the Swift report) with SciPy's.

Exits 1 with every mismatch listed, 0 with "N passed, 0 failed".
"""
import csv
import glob
import json
import math
import sys
import warnings

import numpy as np
import scipy
import scipy.stats as st
import zstandard
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

TOLERANCE = 1e-9
failures = []
checks = 0


def close(label, swift, expected):
    """Swift's value against the reference: both missing (None / NaN / infinite), or equal to 1e-9 relative."""
    global checks
    checks += 1
    missing = expected is None or (isinstance(expected, float) and not math.isfinite(expected))
    if swift is None or missing:
        if not (swift is None and missing):
            failures.append(f"{label}: swift {swift!r}, reference {expected!r}")
        return
    if swift == expected:
        return
    scale = max(abs(swift), abs(expected))
    if abs(swift - expected) > TOLERANCE * scale and abs(swift - expected) > 1e-300:
        failures.append(f"{label}: swift {swift!r}, reference {expected!r} (relative {abs(swift - expected) / scale:.3g})")


def welch_reference(t, c, confidence):
    """mean, variance per side; effect, CI, df, statistic, p by SciPy (and statsmodels agreeing)."""
    t, c = np.asarray(t, dtype=float), np.asarray(c, dtype=float)
    out = {}
    if len(t) < 2 or len(c) < 2:
        return None
    vt, vc = t.var(ddof=1) / len(t), c.var(ddof=1) / len(c)
    if vt + vc == 0:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = st.ttest_ind(t, c, equal_var=False)
        ci = res.confidence_interval(confidence_level=confidence)
    out["estimate"] = t.mean() - c.mean()
    out["lower"], out["upper"] = ci.low, ci.high
    out["statistic"], out["p"], out["df"] = res.statistic, res.pvalue, res.df
    out["se"] = math.sqrt(vt + vc)
    # statsmodels, a second implementation of the same test.
    cm = CompareMeans(DescrStatsW(t), DescrStatsW(c))
    low, high = cm.tconfint_diff(alpha=1 - confidence, usevar="unequal")
    tstat, pvalue, df = cm.ttest_ind(usevar="unequal")
    for name, a, b in [("lower", low, out["lower"]), ("upper", high, out["upper"]), ("p", pvalue, out["p"]), ("df", df, out["df"])]:
        if not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-300):
            failures.append(f"statsmodels and SciPy disagree on {name}: {a!r} vs {b!r}")
    out["relative"] = relative_reference(t.mean(), c.mean(), vt, vc, confidence)
    return out


def relative_reference(mt, mc, vt, vc, confidence):
    if mc == 0:
        return None
    lift = mt / mc - 1
    se = math.sqrt(vt / mc**2 + mt**2 * vc / mc**4)
    z = st.norm.ppf(0.5 + confidence / 2)
    return {"estimate": lift, "se": se, "lower": lift - z * se, "upper": lift + z * se}


def ratio_side(x, y):
    """mean(x)/mean(y) and the variance of the linearised per-unit values (x - r y) / mean(y)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) == 0 or y.mean() == 0:
        return None, None
    r = x.mean() / y.mean()
    if len(x) < 2:
        return r, None
    return r, np.var((x - r * y) / y.mean(), ddof=1)


def ratio_reference(xt, yt, xc, yc, confidence):
    rt, st_var = ratio_side(xt, yt)
    rc, sc_var = ratio_side(xc, yc)
    if rt is None or rc is None or st_var is None or sc_var is None:
        return None
    vt, vc = st_var / len(xt), sc_var / len(xc)
    if vt + vc == 0:
        return None
    se = math.sqrt(vt + vc)
    diff = rt - rc
    z = st.norm.ppf(0.5 + confidence / 2)
    return {
        "estimate": diff, "se": se, "lower": diff - z * se, "upper": diff + z * se, "statistic": diff / se,
        "p": 2 * st.norm.sf(abs(diff / se)), "df": None, "relative": relative_reference(rt, rc, vt, vc, confidence),
    }


def compare(label, swift, reference):
    """A Swift Comparison (JSON, snake_case) against a reference dict."""
    if reference is None or swift is None:
        close(label + " comparison", None if swift is None else 1.0, None if reference is None else 1.0)
        return
    close(label + " absolute", swift["absolute"]["estimate"], reference["estimate"])
    close(label + " standard error", swift["absolute"]["standard_error"], reference["se"])
    close(label + " lower", swift["absolute"]["lower"], reference["lower"])
    close(label + " upper", swift["absolute"]["upper"], reference["upper"])
    close(label + " statistic", swift["statistic"], reference["statistic"])
    close(label + " p-value", swift["p_value"], reference["p"])
    close(label + " df", swift.get("degrees_of_freedom"), reference["df"])
    rel, ref_rel = swift.get("relative"), reference["relative"]
    close(label + " relative", None if rel is None else rel["estimate"], None if ref_rel is None else ref_rel["estimate"])
    if rel is not None and ref_rel is not None:
        close(label + " relative se", rel["standard_error"], ref_rel["se"])
        close(label + " relative lower", rel["lower"], ref_rel["lower"])
        close(label + " relative upper", rel["upper"], ref_rel["upper"])


def summary_reference(kind, x, y=None):
    x = np.asarray(x, dtype=float)
    if kind == "ratio":
        r, var = ratio_side(x, y)
        return {"units": len(x), "mean": r, "variance": var}
    return {"units": len(x), "mean": x.mean() if len(x) else None, "variance": x.var(ddof=1) if len(x) > 1 else None}


def check_summary(label, swift, reference):
    global checks
    checks += 1
    if swift["units"] != reference["units"]:
        failures.append(f"{label} units: swift {swift['units']}, reference {reference['units']}")
    close(label + " mean", swift.get("mean"), reference["mean"])
    close(label + " variance", swift.get("variance"), reference["variance"])


def run_cases(path):
    cases = json.load(open(path))
    for d in cases["distributions"]:
        df, x = d["df"], d["x"]
        if d["kind"] == "t_sf":
            close(f"t.sf({x}, {df})", d["swift"], st.t.sf(x, df))
        elif d["kind"] == "t_isf":
            close(f"t.isf({x}, {df})", d["swift"], st.t.isf(x, df))
        elif d["kind"] == "norm_sf":
            close(f"norm.sf({x})", d["swift"], st.norm.sf(x))
        elif d["kind"] == "norm_isf":
            close(f"norm.isf({x})", d["swift"], st.norm.isf(x))
        elif d["kind"] == "chi2_sf":
            close(f"chi2.sf({x}, {df})", d["swift"], st.chi2.sf(x, df))
    for c in cases["comparisons"]:
        label = c["name"]
        if c["kind"] == "welch":
            check_summary(label + " treatment", c["swift_treatment"], summary_reference("mean", c["treatment"]))
            check_summary(label + " control", c["swift_control"], summary_reference("mean", c["control"]))
            compare(label, c.get("swift"), welch_reference(c["treatment"], c["control"], c["confidence"]))
        else:
            check_summary(label + " treatment", c["swift_treatment"], summary_reference("ratio", c["treatment"], c["treatment_y"]))
            check_summary(label + " control", c["swift_control"], summary_reference("ratio", c["control"], c["control_y"]))
            compare(label, c.get("swift"), ratio_reference(c["treatment"], c["treatment_y"], c["control"], c["control_y"], c["confidence"]))
    for s in cases["srm"]:
        check_srm(s["name"], s["swift"], s["observed"], s["weights"])


def check_srm(label, swift, observed, weights):
    total = sum(observed)
    positive = [i for i, w in enumerate(weights) if w > 0]
    if total == 0 or len(positive) < 2:
        close(label + " srm", None if swift is None else 1.0, None)
        return
    expected = [total * weights[i] / sum(weights) for i in positive]
    res = st.chisquare([observed[i] for i in positive], expected)
    close(label + " chi-square", swift["statistic"], res.statistic)
    close(label + " srm p-value", swift["p_value"], res.pvalue)


def run_report(spec_path, exposures_dir, events_path, report_path):
    spec = json.load(open(spec_path))
    report = json.load(open(report_path))
    include_bulk = spec.get("include_bulk", False)
    confidence = spec["confidence"]
    metrics = {m["name"]: m for m in spec["metrics"]}
    results = {e["experiment"]: e for e in report["experiments"]}
    for experiment in spec["experiments"]:
        name = experiment["name"]
        variants = [v["name"] for v in experiment["variants"]]
        units = {}  # unit -> {"variants": set, "first": ts, "counted": bool, "override": bool}
        for path in sorted(glob.glob(f"{exposures_dir}/**/*.ndjson.zst", recursive=True)):
            with open(path, "rb") as f:
                text = zstandard.ZstdDecompressor().stream_reader(f).read().decode()
            for line in text.splitlines():
                r = json.loads(line)
                if r["variant"] is None or r["experiment"] != name:
                    continue
                u = units.setdefault(r["unit"], {"variants": set(), "first": None, "counted": False, "override": False})
                if r["reason"] == "override":
                    u["override"] = True
                if r["api"] == "ofrep_bulk" and not include_bulk:
                    continue
                u["counted"] = True
                u["variants"].add(r["variant"])
                u["first"] = r["ts"] if u["first"] is None else min(u["first"], r["ts"])
        analysed = {unit: next(iter(u["variants"])) for unit, u in units.items()
                    if u["counted"] and len(u["variants"]) == 1 and not u["override"] and next(iter(u["variants"])) in variants}
        sums, counts = {}, {}
        pre_sums, pre_counts = {}, {}
        cuped = spec.get("cuped_window_seconds")
        with open(events_path) as f:
            for row in csv.DictReader(f):
                unit, event, ts = row["unit_id"], row["metric"], int(row["timestamp"])
                value = float(row["value"]) if row["value"] != "" else 1.0
                if unit not in units or units[unit]["first"] is None:
                    continue
                if ts < units[unit]["first"]:
                    if cuped and ts >= units[unit]["first"] - cuped * 1000:
                        for m in metrics.values():
                            if m["type"] != "ratio" and (m.get("event") or m["name"]) == event:
                                pre_sums[(unit, m["name"])] = pre_sums.get((unit, m["name"]), 0.0) + value
                                pre_counts[(unit, m["name"])] = pre_counts.get((unit, m["name"]), 0) + 1
                    continue
                for m in metrics.values():
                    if m["type"] == "ratio" or (m.get("event") or m["name"]) != event:
                        continue
                    if m.get("window_seconds") and ts >= units[unit]["first"] + m["window_seconds"] * 1000:
                        continue
                    key = (unit, m["name"])
                    sums[key] = sums.get(key, 0.0) + value
                    counts[key] = counts.get(key, 0) + 1

        def value(unit, metric):
            m = metrics[metric]
            if m["type"] == "conversion":
                return 1.0 if counts.get((unit, metric), 0) > 0 else 0.0
            return sums.get((unit, metric), 0.0)

        result = results[name]
        members = {v: [u for u, var in analysed.items() if var == v] for v in variants}
        observed = [len(members[v]) for v in variants]
        for v, swift in zip(variants, result["variants"]):
            if swift["units"] != len(members[v]):
                failures.append(f"{name}/{v}: swift {swift['units']} units, reference {len(members[v])}")
        check_srm(name, result.get("sample_ratio"), observed, [v["weight"] for v in experiment["variants"]])
        control = result["control"]
        for metric_result in result["metrics"]:
            m = metrics[metric_result["metric"]]
            data = {}
            for v in variants:
                if m["type"] in ("conversion", "sum"):
                    data[v] = ([value(u, m["name"]) for u in members[v]], None)
                elif m["type"] == "mean":
                    data[v] = ([sums.get((u, m["name"]), 0.0) for u in members[v]], [float(counts.get((u, m["name"]), 0)) for u in members[v]])
                else:
                    data[v] = ([value(u, m["numerator"]) for u in members[v]], [value(u, m["denominator"]) for u in members[v]])
            kind = "mean" if m["type"] in ("conversion", "sum") else "ratio"
            if cuped and kind == "mean":
                # CUPED: theta is the OLS slope of the value on the pre-exposure covariate (statsmodels).
                import statsmodels.api as sm

                def covariate(u):
                    if m["type"] == "conversion":
                        return 1.0 if pre_counts.get((u, m["name"]), 0) > 0 else 0.0
                    return pre_sums.get((u, m["name"]), 0.0)
                xs = {v: [covariate(u) for u in members[v]] for v in variants}
                all_x = np.array([x for v in variants for x in xs[v]])
                all_y = np.array([y for v in variants for y in data[v][0]])
                theta = sm.OLS(all_y, sm.add_constant(all_x, has_constant="add")).fit().params[1] if all_x.var() > 0 else 0.0
                close(f"{name}/{m['name']} theta", metric_result["cuped"]["theta"], theta)
                data = {v: ([y - theta * (x - all_x.mean()) for y, x in zip(data[v][0], xs[v])], None) for v in variants}
            for entry in metric_result["variants"]:
                x, y = data[entry["variant"]]
                check_summary(f"{name}/{m['name']}/{entry['variant']}", entry["summary"], summary_reference(kind, x, y))
            for entry in metric_result["comparisons"]:
                (xt, yt), (xc, yc) = data[entry["variant"]], data[control]
                reference = welch_reference(xt, xc, confidence) if kind == "mean" else ratio_reference(xt, yt, xc, yc, confidence)
                compare(f"{name}/{m['name']}/{entry['variant']}", entry.get("comparison"), reference)


def main():
    if sys.argv[1] == "cases":
        run_cases(sys.argv[2])
    else:
        run_report(*sys.argv[2:6])
    for failure in failures:
        print("MISMATCH", failure)
    print(f"scipy {scipy.__version__}: {checks - len(failures)} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
