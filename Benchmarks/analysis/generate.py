#!/usr/bin/env python3
"""Synthetic input for the `allot analyze` benchmark: N exposure records (in hourly segments of the
exposure layout, zstd) and M metric events (CSV), for the sample experiment green-checkout-button.

Usage: generate.py OUT_DIR [--records N] [--events M] [--units U] [--seed S]
"""
import argparse
import os
import random

import zstandard

START_MS = 1764547200000
HOUR_MS = 3_600_000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--units", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    hours = 72
    per_hour = args.records // hours
    seq = 0
    for hour in range(hours):
        start = START_MS + hour * HOUR_MS
        day = 1 + hour // 24
        folder = os.path.join(args.out, "exposures", "exposures", f"date=2025-12-{day:02d}", f"hour={hour % 24:02d}", "region=eu-west")
        os.makedirs(folder, exist_ok=True)
        lines = []
        count = per_hour if hour < hours - 1 else args.records - per_hour * (hours - 1)
        for k in range(count):
            unit = rng.randrange(args.units)
            variant = "green" if unit % 2 else "control"
            lines.append(
                f'{{"v":1,"ts":{start + k * HOUR_MS // count},"unit_type":"user_id","unit":"u-{unit:08d}","experiment":"green-checkout-button",'
                f'"variant":"{variant}","layer":"checkout","reason":"split","bundle":7,"region":"eu-west","server":"edge-eu-1","api":"native"}}\n')
        seq += 1
        data = "".join(lines).encode()
        with open(os.path.join(folder, f"edge-eu-1-1764500000000-{seq:06d}.ndjson.zst"), "wb") as f:
            f.write(zstandard.ZstdCompressor(level=3, write_checksum=True, write_content_size=False).compress(data))
    metrics = ["purchase", "revenue", "support-contacts"]
    with open(os.path.join(args.out, "events.csv"), "w") as f:
        f.write("unit_id,metric,value,timestamp\n")
        chunk = []
        for k in range(args.events):
            unit = rng.randrange(args.units)
            chunk.append(f"u-{unit:08d},{metrics[k % 3]},{rng.randrange(1, 20000) / 100},{START_MS + rng.randrange(4 * 24 * HOUR_MS)}\n")
            if len(chunk) == 100_000:
                f.write("".join(chunk))
                chunk = []
        f.write("".join(chunk))


if __name__ == "__main__":
    main()
