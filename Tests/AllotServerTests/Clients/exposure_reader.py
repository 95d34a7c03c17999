#!/usr/bin/env python3
"""Reads an exposure log the way a warehouse would, with third-party readers only, and checks it.

Usage: exposure_reader.py ROOT SCHEMA

ROOT holds `exposures/date=YYYY-MM-DD/hour=HH/region=R/<server>-<boot>-<seq>.ndjson.zst` (a
folder store, a copy of an S3 store, or a spool). For every segment it checks, with `zstandard`,
that the file is exactly one zstd frame with a content checksum whose content is whole lines;
validates every record against SCHEMA (docs/exposure.schema.json) with `jsonschema`; checks that
the key's date, hour and region agree with every record; then reads the whole tree with DuckDB's
`read_json` over the Hive layout and counts. Prints one JSON document:

  {"segments": [{"key": ..., "records": n}], "records": [...], "errors": [...],
   "duckdb": {"count": n, "by_api": {...}, "partitions": [[date, hour, region, n], ...]}}

Exits 0 even when it finds errors (the caller asserts on "errors"); 2 on bad usage.
"""
import datetime
import glob
import io
import json
import os
import sys

import duckdb
import jsonschema
import zstandard


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    root, schema_path = sys.argv[1], sys.argv[2]
    with open(schema_path) as f:
        schema = json.load(f)
    validator = jsonschema.Draft202012Validator(schema)
    errors, segments, records = [], [], []
    pattern = os.path.join(root, "exposures", "date=*", "hour=*", "region=*", "*.ndjson.zst")
    for path in sorted(glob.glob(pattern)):
        key = os.path.relpath(path, root)
        parts = key.split(os.sep)
        date, hour, region = parts[1][5:], parts[2][5:], parts[3][7:]
        with open(path, "rb") as f:
            data = f.read()
        try:
            params = zstandard.get_frame_parameters(data)
            if not params.has_checksum:
                errors.append(f"{key}: the frame has no content checksum")
            # One frame, nothing after it: decompressobj stops at the frame's end and keeps the rest.
            reader = zstandard.ZstdDecompressor().decompressobj()
            content = reader.decompress(data)
            if not reader.eof:
                errors.append(f"{key}: the frame is not complete")
            if reader.unused_data:
                errors.append(f"{key}: {len(reader.unused_data)} bytes after the frame")
        except zstandard.ZstdError as error:
            errors.append(f"{key}: not a valid zstd frame: {error}")
            continue
        text = content.decode("utf-8")
        if text and not text.endswith("\n"):
            errors.append(f"{key}: the content does not end with a newline")
        lines = text.split("\n")[:-1] if text else []
        count = 0
        for number, line in enumerate(lines, 1):
            if not line:
                errors.append(f"{key}:{number}: blank line")
                continue
            record = json.loads(line)
            for problem in validator.iter_errors(record):
                errors.append(f"{key}:{number}: {problem.message}")
            when = datetime.datetime.fromtimestamp(record["ts"] / 1000, tz=datetime.timezone.utc)
            if when.strftime("%Y-%m-%d") != date or when.strftime("%H") != hour:
                errors.append(f"{key}:{number}: ts {record['ts']} is not in date={date}/hour={hour}")
            if record["region"] != region:
                errors.append(f"{key}:{number}: region {record['region']} in a region={region} key")
            record["_key"] = key
            records.append(record)
            count += 1
        segments.append({"key": key, "records": count})

    result = {"segments": segments, "records": records, "errors": errors, "duckdb": {"count": 0, "by_api": {}, "partitions": []}}
    if segments:
        con = duckdb.connect()
        source = (
            f"read_json('{root}/exposures/*/*/*/*.ndjson.zst', format = 'newline_delimited', "
            "compression = 'zstd', hive_partitioning = true)"
        )
        result["duckdb"]["count"] = con.execute(f"SELECT count(*) FROM {source}").fetchone()[0]
        result["duckdb"]["by_api"] = dict(con.execute(f"SELECT api, count(*) FROM {source} GROUP BY api").fetchall())
        result["duckdb"]["partitions"] = [
            [str(d), str(h), r, n]
            for d, h, r, n in con.execute(
                f"SELECT date, hour, region, count(*) FROM {source} GROUP BY ALL ORDER BY ALL").fetchall()
        ]
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
