#!/usr/bin/env python3
"""Generates Tests/Vectors/xxh3.json, Tests/Vectors/xxh3-128.json and Tests/Vectors/buckets.json.

xxh3.json holds the official XXH3_64bits sanity vectors published by the xxHash project
(cli/xsum_sanity_check.c: lengths and seeds over its pseudo-random test buffer), checked here
against the independent `xxhash` package from PyPI, plus extra string vectors from that package.

buckets.json pins Allot's bucketing: hash = XXH3_64(salt || 0x00 || unit_id) with seed 0, mapped
to 0..9999 by Lemire's multiply-shift with rejection; a rejected hash h is replaced by
XXH3_64(le64(h)). This script is an independent implementation of that rule.

Bucketing scheme 2 (payload format version 2; docs/bundle-format.md section 3): hash =
XXH3_64(digest, seed = XXH3_64(utf8(salt))) where digest is the canonical 16 bytes of
XXH3_128(utf8(unit_id)) (high 64 bits big-endian, then low 64 bits big-endian), mapped the same
way. buckets.json holds its cases under "scheme2Cases"; xxh3-128.json pins XXH3_128bits itself.

Run: pip install xxhash && python3 scripts/generate-hash-vectors.py
"""
import json
import os
import random
import struct

import xxhash

PRIME32 = 2654435761
PRIME64 = 11400714785074694797
MASK = (1 << 64) - 1

# (length, seed, expected) from xxHash's sanity check (XSUM_XXH3_testdata).
OFFICIAL = [
    (0, 0, 0x2D06800538D394C2), (0, PRIME64, 0xA8A6B918B2F0364A),
    (1, 0, 0xC44BDFF4074EECDB), (1, PRIME64, 0x032BE332DD766EF8),
    (6, 0, 0x27B56A84CD2D7325), (6, PRIME64, 0x84589C116AB59AB9),
    (12, 0, 0xA713DAF0DFBB77E7), (12, PRIME64, 0xE7303E1B2336DE0E),
    (24, 0, 0xA3FE70BF9D3510EB), (24, PRIME64, 0x850E80FC35BDD690),
    (48, 0, 0x397DA259ECBA1F11), (48, PRIME64, 0xADC2CBAA44ACC616),
    (80, 0, 0xBCDEFBBB2C47C90A), (80, PRIME64, 0xC6DD0CB699532E73),
    (195, 0, 0xCD94217EE362EC3A), (195, PRIME64, 0xBA68003D370CB3D9),
    (403, 0, 0xCDEB804D65C6DEA4), (403, PRIME64, 0x6259F6ECFD6443FD),
    (512, 0, 0x617E49599013CB6B), (512, PRIME64, 0x3CE457DE14C27708),
    (2048, 0, 0xDD59E2C3A5F038E0), (2048, PRIME64, 0x66F81670669ABABC),
    (2240, 0, 0x6E73A90539CF2948), (2240, PRIME64, 0x757BA8487D1B5247),
    (2367, 0, 0xCB37AEB9E5D361ED), (2367, PRIME64, 0xD2DB3415B942B42A),
]


def sanity_buffer(length):
    out = bytearray()
    gen = PRIME32
    for _ in range(length):
        out.append(gen >> 56)
        gen = (gen * PRIME64) & MASK
    return bytes(out)


def bucket_of(h, n=10_000):
    while True:
        m = h * n
        low = m & MASK
        if low >= n or low >= ((1 << 64) - n) % n:
            return m >> 64
        h = xxhash.xxh3_64_intdigest(struct.pack("<Q", h))


def scheme2_hash(salt, unit):
    digest = xxhash.xxh3_128_digest(unit.encode())
    return xxhash.xxh3_64_intdigest(digest, seed=xxhash.xxh3_64_intdigest(salt.encode()))


def main():
    root = os.path.join(os.path.dirname(__file__), "..", "Tests", "Vectors")
    buffer = sanity_buffer(2367)
    official = []
    for length, seed, expected in OFFICIAL:
        got = xxhash.xxh3_64_intdigest(buffer[:length], seed=seed)
        assert got == expected, (length, seed, hex(got))
        official.append({"length": length, "seed": str(seed), "hash": f"{expected:016x}"})
    rng = random.Random(7)
    strings = ["", "a", "abc", "user_id", "checkout\x00u1", "ünïcödé", "🙂", "x" * 17, "y" * 129, "z" * 241]
    for _ in range(40):
        size = rng.choice([3, 8, 9, 16, 17, 33, 64, 65, 100, 128, 129, 200, 240, 241, 300, 700])
        strings.append("".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789-_:") for _ in range(size)))
    peer = [{"utf8": s, "seed": "0", "hash": f"{xxhash.xxh3_64_intdigest(s.encode()):016x}"} for s in strings]
    peer += [{"utf8": s, "seed": str(PRIME64), "hash": f"{xxhash.xxh3_64_intdigest(s.encode(), seed=PRIME64):016x}"} for s in strings[:20]]
    with open(os.path.join(root, "xxh3.json"), "w") as f:
        json.dump({
            "description": "XXH3_64bits vectors. 'official' entries hash the first 'length' bytes of xxHash's sanity buffer: "
                           "byte i = (g_i >> 56) where g_0 = 2654435761 and g_{i+1} = g_i * 11400714785074694797 mod 2^64. "
                           "'peer' entries hash the UTF-8 of 'utf8'. Seeds and hashes are decimal strings and 16 hex digits.",
            "official": official,
            "peer": peer,
        }, f, indent=1, ensure_ascii=False)
        f.write("\n")

    # XXH3_128bits: the sanity buffer at every length path (0, 1-3, 4-8, 9-16, 17-128, 129-240, long) and seeds.
    lengths = [0, 1, 2, 3, 4, 6, 8, 9, 12, 16, 17, 24, 32, 33, 48, 64, 65, 80, 96, 97, 128, 129, 160, 161, 192, 195, 224, 240,
               241, 256, 403, 512, 1024, 2048, 2240, 2367]
    hashes128 = []
    for length in lengths:
        for seed in (0, PRIME64, 1):
            value = xxhash.xxh3_128_intdigest(buffer[:length], seed=seed)
            hashes128.append({"length": length, "seed": str(seed), "high": f"{value >> 64:016x}", "low": f"{value & MASK:016x}"})
    with open(os.path.join(root, "xxh3-128.json"), "w") as f:
        json.dump({
            "description": "XXH3_128bits vectors from the xxhash PyPI package: each entry hashes the first 'length' bytes of "
                           "xxHash's sanity buffer (as in xxh3.json) with 'seed' (decimal); 'high' and 'low' are the two 64-bit "
                           "halves in 16 hex digits.",
            "vectors": hashes128,
        }, f, indent=1)
        f.write("\n")

    cases = []
    salts = ["checkout", "search", "holdout:global", "green-checkout-button", "exp#2", "ünï"]
    ids = ["u1", "u2", "user-000042", "d8f1c2a0-5b6e-4c1f-9a3e-7b2d4c6e8f10", "", "a" * 300, "🙂", "qa-user-1"]
    for salt in salts:
        for uid in ids:
            if not uid:
                continue
            h = xxhash.xxh3_64_intdigest(salt.encode() + b"\x00" + uid.encode())
            cases.append({"salt": salt, "unit": uid, "hash": f"{h:016x}", "bucket": bucket_of(h)})
    for i in range(200):
        salt, uid = f"layer-{i % 7}", f"user-{i}"
        h = xxhash.xxh3_64_intdigest(salt.encode() + b"\x00" + uid.encode())
        cases.append({"salt": salt, "unit": uid, "hash": f"{h:016x}", "bucket": bucket_of(h)})
    scheme2 = []
    for salt in salts:
        for uid in ids:
            if not uid:
                continue
            digest = xxhash.xxh3_128_digest(uid.encode())
            seed = xxhash.xxh3_64_intdigest(salt.encode())
            h = scheme2_hash(salt, uid)
            scheme2.append({"salt": salt, "unit": uid, "digest": digest.hex(), "seed": f"{seed:016x}", "hash": f"{h:016x}",
                            "bucket": bucket_of(h)})
    for i in range(200):
        salt, uid = f"layer-{i % 7}", f"user-{i}"
        h = scheme2_hash(salt, uid)
        scheme2.append({"salt": salt, "unit": uid, "digest": xxhash.xxh3_128_digest(uid.encode()).hex(),
                        "seed": f"{xxhash.xxh3_64_intdigest(salt.encode()):016x}", "hash": f"{h:016x}", "bucket": bucket_of(h)})
    # The mapping alone, including hashes in the rejection zone (low 64 bits of h*10000 below 1616).
    mapping = []
    for h in [0, 1, 2, 1844674407370955, 1844674407370956, MASK, MASK - 1, 1 << 63, 12345678901234567890]:
        mapping.append({"hash": f"{h:016x}", "bucket": bucket_of(h)})
    with open(os.path.join(root, "buckets.json"), "w") as f:
        json.dump({
            "description": "Allot bucketing: hash = XXH3_64(utf8(salt) || 0x00 || utf8(unit)), seed 0; bucket = high 64 bits of "
                           "hash * 10000, unless the low 64 bits are below (2^64 - 10000) mod 10000 = 1616, in which case hash is "
                           "replaced by XXH3_64(little-endian 8 bytes of hash) and the step repeats.",
            "bucketCount": 10000,
            "cases": cases,
            "scheme2Description": "Bucketing scheme 2 (payload format 2): digest = XXH3_128(utf8(unit)), seed 0, as its canonical 16 "
                                  "bytes (high 64 bits big-endian, then low 64 bits big-endian); seed = XXH3_64(utf8(salt)), seed 0; "
                                  "hash = XXH3_64(digest, seed); bucket as above.",
            "scheme2Cases": scheme2,
            "mapping": mapping,
        }, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
