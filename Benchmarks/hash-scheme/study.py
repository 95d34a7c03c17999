#!/usr/bin/env python3
"""Statistical study of Allot's two bucketing schemes (docs/bundle-format.md, "Bucketing schemes").

Scheme 1 (payload format version 1): every layer bucket, variant bucket and holdout bucket is
    bucket(XXH3_64(salt || 0x00 || id, seed 0)).
Scheme 2 (payload format version 2): the id is hashed once per unit type,
    digest = XXH3_128(id, seed 0) as 16 bytes (high 64 bits big-endian, then low 64 bits, the
    canonical xxHash representation), and every bucket is
    bucket(XXH3_64(digest, seed = XXH3_64(salt, seed 0))).
bucket() is Lemire's multiply-shift with rejection onto 0..9999 in both.

This script is an independent implementation of both (the `xxhash` package from PyPI, no Allot
code). For each family of unit ids, structured and random, it computes with both schemes the
buckets of three layers and of two experiments (one in the first layer, one in the second) and
tests, with SciPy:

- uniformity: chi-square goodness of fit of each salt's buckets over the 10,000 buckets;
- independence between layers: chi-square contingency of two layers' buckets (100 x 100 bins);
- independence between the layer bucket and the variant: the layer's bucket (100 bins) against
  the variant bucket of an experiment of that layer (100 bins) and against the variant chosen
  (three variants, 34/33/33 %);
- neighbours: every id against a sibling differing from it in one byte (same position, another
  character of the same alphabet): contingency of their layer buckets and of their variants.

Effect sizes: Cohen's w = sqrt(chi2 / n) for uniformity and Cramer's V for contingencies; under
independence and uniformity their expected values are about sqrt(df / n) and sqrt(df / (n * (k - 1))),
so the script also prints chi2 / df (about 1 under the null hypothesis, whatever n).
Across all tests the p-values of a sound scheme are uniform on [0, 1]: a Kolmogorov-Smirnov test
of each scheme's p-values closes the report.

Run: pip install xxhash numpy scipy && python3 Benchmarks/hash-scheme/study.py [--units 1000000]
"""
import argparse
import json
import random
import string
import struct
import sys
import time
import uuid

import numpy as np
import xxhash
from scipy import stats

BUCKETS = 10_000
MASK = (1 << 64) - 1
LAYER_SALTS = ["checkout", "search-ranking", "onboarding"]
EXPERIMENT_SALTS = ["green-checkout-button", "ranking-v2"]  # in layers 0 and 1
VARIANT_STARTS = [0, 3334, 6667]  # three variants, 34/33/33 %
ALNUM = string.ascii_lowercase + string.digits


def bucket_of(h):
    """Lemire's multiply-shift with rejection; a rejected h is replaced by XXH3_64(le64(h))."""
    while True:
        m = h * BUCKETS
        low = m & MASK
        if low >= BUCKETS or low >= ((1 << 64) - BUCKETS) % BUCKETS:
            return m >> 64
        h = xxhash.xxh3_64_intdigest(struct.pack("<Q", h))


def buckets_of(hashes):
    """bucket_of over a list of 64-bit hashes, vectorised (the high word of h * 10,000)."""
    h = np.array(hashes, dtype=np.uint64)
    n = np.uint64(BUCKETS)
    high_part = (h >> np.uint64(32)) * n
    low_part = (h & np.uint64(0xFFFFFFFF)) * n
    result = (high_part + (low_part >> np.uint64(32))) >> np.uint64(32)
    low64 = (high_part << np.uint64(32)) + low_part  # wraps modulo 2^64
    for index in np.nonzero(low64 < np.uint64(1616))[0]:  # rejections: exact path
        result[index] = bucket_of(int(h[index]))
    return result.astype(np.int64)


def scheme1(ids, salt):
    prefix = salt.encode() + b"\x00"
    return buckets_of([xxhash.xxh3_64_intdigest(prefix + unit) for unit in ids])


def digests(ids):
    return [xxhash.xxh3_128_digest(unit) for unit in ids]


def salt_seed(salt):
    return xxhash.xxh3_64_intdigest(salt.encode())


def scheme2(unit_digests, seed):
    return buckets_of([xxhash.xxh3_64_intdigest(d, seed=seed) for d in unit_digests])


def variant_of(variant_buckets):
    return np.searchsorted(np.array(VARIANT_STARTS), variant_buckets, side="right") - 1


# Unit id families: each returns n ids (bytes) and a sibling per id differing in one byte.


def family_sequential(n, rng):
    return [str(i).encode() for i in range(1, n + 1)]


def family_numeric(n, rng):
    start = 10**11
    return [f"{start + i:012d}".encode() for i in range(n)]


def family_uuid4(n, rng):
    return [str(uuid.UUID(bytes=rng.randbytes(16), version=4)).encode() for _ in range(n)]


def family_email(n, rng):
    return [f"customer.account.{i}@example.com".encode() for i in range(n)]


def family_one_byte(n, rng):
    """Groups of ids that are one base id with one byte changed: 40-character bases, every
    position, every other character of the alphabet (40 x 35 ids per base)."""
    out = []
    while len(out) < n:
        base = bytearray("".join(rng.choice(ALNUM) for _ in range(40)).encode())
        for position in range(len(base)):
            for character in ALNUM.encode():
                if character != base[position]:
                    variant = bytearray(base)
                    variant[position] = character
                    out.append(bytes(variant))
    return out[:n]


def family_random(n, rng):
    return [rng.randbytes(16).hex().encode() for _ in range(n)]


FAMILIES = {
    "sequential integers (1, 2, 3, ...)": family_sequential,
    "numeric strings (12 digits, consecutive)": family_numeric,
    "UUID v4": family_uuid4,
    "shared-prefix emails (customer.account.N@example.com)": family_email,
    "ids differing in one byte (40 chars)": family_one_byte,
    "random (32 hex chars)": family_random,
}


def sibling(unit, rng):
    """The id with one byte replaced by another character of its own class (digit, letter, other)."""
    position = rng.randrange(len(unit))
    old = chr(unit[position])
    pool = string.digits if old.isdigit() else (ALNUM if old.isalnum() else "-_.")
    new = rng.choice([c for c in pool if c != old])
    return unit[:position] + new.encode() + unit[position + 1 :]


def uniformity(buckets):
    counts = np.bincount(buckets, minlength=BUCKETS)
    chi2, p = stats.chisquare(counts)
    df = BUCKETS - 1
    return {"test": "uniformity", "chi2_per_df": chi2 / df, "p": p, "effect": float(np.sqrt(chi2 / len(buckets))), "effect_name": "w"}


def contingency(a, b, a_bins, b_bins):
    table = np.zeros((a_bins, b_bins), dtype=np.int64)
    np.add.at(table, (a, b), 1)
    chi2, p, df, _ = stats.chi2_contingency(table, correction=False)
    v = np.sqrt(chi2 / (table.sum() * (min(a_bins, b_bins) - 1)))
    return {"test": "independence", "chi2_per_df": chi2 / df, "p": p, "effect": float(v), "effect_name": "V"}


def study(name, ids, siblings, scheme):
    """Every bucket a layer and experiment set-up needs, then the tests, for one scheme."""
    if scheme == 1:
        layers = [scheme1(ids, s) for s in LAYER_SALTS]
        experiments = [scheme1(ids, s) for s in EXPERIMENT_SALTS]
        sibling_layer = scheme1(siblings, LAYER_SALTS[0])
        sibling_variant = scheme1(siblings, EXPERIMENT_SALTS[0])
    else:
        d = digests(ids)
        layers = [scheme2(d, salt_seed(s)) for s in LAYER_SALTS]
        experiments = [scheme2(d, salt_seed(s)) for s in EXPERIMENT_SALTS]
        ds = digests(siblings)
        sibling_layer = scheme2(ds, salt_seed(LAYER_SALTS[0]))
        sibling_variant = scheme2(ds, salt_seed(EXPERIMENT_SALTS[0]))
    rows = []
    for salt, b in zip(LAYER_SALTS + EXPERIMENT_SALTS, layers + experiments):
        rows.append({"what": f"buckets of {salt}", **uniformity(b)})
    coarse = [b // 100 for b in layers]
    rows.append({"what": "layer 0 x layer 1", **contingency(coarse[0], coarse[1], 100, 100)})
    rows.append({"what": "layer 0 x layer 2", **contingency(coarse[0], coarse[2], 100, 100)})
    rows.append({"what": "layer 1 x layer 2", **contingency(coarse[1], coarse[2], 100, 100)})
    for index in range(2):
        rows.append({"what": f"layer {index} x its variant bucket", **contingency(coarse[index], experiments[index] // 100, 100, 100)})
        rows.append({"what": f"layer {index} x its variant (3)", **contingency(coarse[index], variant_of(experiments[index]), 100, 3)})
    rows.append({"what": "layer 0 x the other layer's variant", **contingency(coarse[0], variant_of(experiments[1]), 100, 3)})
    rows.append({"what": "id x one-byte sibling: layer 0", **contingency(coarse[0], sibling_layer // 100, 100, 100)})
    rows.append({"what": "id x one-byte sibling: variant", **contingency(variant_of(experiments[0]), variant_of(sibling_variant), 3, 3)})
    for row in rows:
        row["family"] = name
        row["scheme"] = scheme
    return rows


def related_seeds(ids):
    """Scheme 2 with seeds chosen to be as related as possible (not reachable through salts,
    whose seeds are hashes): s and s + 1, s and s with only the top bit flipped."""
    d = digests(ids)
    s = salt_seed(LAYER_SALTS[0])
    base = scheme2(d, s) // 100
    rows = []
    for label, other in [("seed s x seed s+1", (s + 1) & MASK), ("seed s x seed s^2^63", s ^ (1 << 63)), ("seed 0 x seed 1", None)]:
        if other is None:
            a, b = scheme2(d, 0) // 100, scheme2(d, 1) // 100
        else:
            a, b = base, scheme2(d, other) // 100
        rows.append({"what": f"related seeds: {label}", "family": "random (32 hex chars)", "scheme": 2, **contingency(a, b, 100, 100)})
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=1_000_000, help="ids per family (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=19, help="seed of the id generators (default 19)")
    parser.add_argument("--json", help="also write every row to this file")
    args = parser.parse_args()
    rows = []
    started = time.time()
    for name, family in FAMILIES.items():
        rng = random.Random(f"{args.seed}:{name}")
        ids = family(args.units, rng)
        assert len(set(ids)) == len(ids), f"{name}: duplicate ids"
        siblings = [sibling(unit, rng) for unit in ids]
        for scheme in (1, 2):
            rows.extend(study(name, ids, siblings, scheme))
        if name.startswith("random"):
            rows.extend(related_seeds(ids))
        print(f"# {name}: done after {time.time() - started:.0f} s", file=sys.stderr)

    print(f"units per family: {args.units:,}; buckets: {BUCKETS:,}; contingency bins: 100 per layer, 3 variants")
    print()
    print("| family | test | scheme 1: chi2/df, p, effect | scheme 2: chi2/df, p, effect |")
    print("|---|---|---|---|")
    keyed = {}
    for row in rows:
        keyed.setdefault((row["family"], row["what"]), {})[row["scheme"]] = row

    def cell(row):
        if row is None:
            return "—"
        return f"{row['chi2_per_df']:.3f}, p={row['p']:.3f}, {row['effect_name']}={row['effect']:.4f}"

    for (family, what), by_scheme in keyed.items():
        print(f"| {family} | {what} | {cell(by_scheme.get(1))} | {cell(by_scheme.get(2))} |")
    print()
    for scheme in (1, 2):
        ps = np.array([row["p"] for row in rows if row["scheme"] == scheme])
        ks = stats.kstest(ps, "uniform")
        print(
            f"scheme {scheme}: {len(ps)} tests, min p {ps.min():.4f}, p < 0.01: {int((ps < 0.01).sum())}, "
            f"p < 0.05: {int((ps < 0.05).sum())}; KS of the p-values against uniform: D={ks.statistic:.3f}, p={ks.pvalue:.3f}"
        )
    if args.json:
        with open(args.json, "w") as out:
            json.dump(rows, out, indent=1)


if __name__ == "__main__":
    main()
