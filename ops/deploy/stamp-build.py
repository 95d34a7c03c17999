#!/usr/bin/env python3
"""Writes the build stamp (commit, date) into a linked `allot` binary, or prints it.

The binary reserves 256 zero bytes in an ELF section of its own, `allot_build_stamp`
(Sources/CAllotBuildStamp). This script finds that section through the ELF section headers and
overwrites exactly those bytes with `commit=…\\ndate=…\\n` padded with zeros; nothing else in the file
changes, so the build stays reproducible and the stamp is the only difference between an unstamped
and a stamped binary. `allot --version` reads it back (Sources/allot/Support/AllotVersion.swift).

    ops/deploy/stamp-build.py BINARY --commit 40HEX[-dirty] --date 2026-12-04T15:02:11Z
    ops/deploy/stamp-build.py BINARY --print

Exit status: 0 done, 1 the binary has no usable stamp section (not an ELF64 little-endian file, no
section, wrong size or type), 2 bad arguments. On any error the binary is left untouched.
"""

import argparse
import re
import struct
import sys

SECTION = b"allot_build_stamp"
SIZE = 256
SHT_PROGBITS = 1


class StampError(Exception):
    pass


def find_section(data: bytes) -> tuple[int, int]:
    """The file offset and size of the stamp section, read from the ELF64 section headers."""
    if len(data) < 64 or data[:4] != b"\x7fELF":
        raise StampError("not an ELF file")
    if data[4] != 2 or data[5] != 1:
        raise StampError("not a 64-bit little-endian ELF file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    if shentsize != 64 or shnum == 0 or shstrndx >= shnum or shoff + shnum * 64 > len(data):
        raise StampError("malformed section header table")

    def header(index: int) -> tuple[int, int, int, int]:
        name, kind, _flags, _addr, offset, size = struct.unpack_from("<IIQQQQ", data, shoff + index * 64)
        return name, kind, offset, size

    _, _, names_offset, names_size = header(shstrndx)
    if names_offset + names_size > len(data):
        raise StampError("malformed section name table")
    names = data[names_offset:names_offset + names_size]
    found = []
    for index in range(shnum):
        name, kind, offset, size = header(index)
        end = names.find(b"\0", name)
        if end >= 0 and names[name:end] == SECTION:
            found.append((kind, offset, size))
    if len(found) != 1:
        raise StampError(f"expected one '{SECTION.decode()}' section, found {len(found)}: not an allot binary?")
    kind, offset, size = found[0]
    if kind != SHT_PROGBITS or size != SIZE or offset + size > len(data):
        raise StampError(f"the '{SECTION.decode()}' section is not {SIZE} bytes of data (type {kind}, size {size})")
    return offset, size


def encode(commit: str, date: str) -> bytes:
    if not re.fullmatch(r"[0-9a-f]{40}(-dirty)?", commit):
        raise ValueError(f"--commit '{commit}' is not 40 lowercase hex digits (optionally followed by -dirty)")
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", date):
        raise ValueError(f"--date '{date}' is not YYYY-MM-DDTHH:MM:SSZ (UTC)")
    text = f"commit={commit}\ndate={date}\n".encode("ascii")
    return text + bytes(SIZE - len(text))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("binary")
    parser.add_argument("--commit")
    parser.add_argument("--date")
    parser.add_argument("--print", action="store_true", help="print the stamp section's text and exit")
    options = parser.parse_args()

    try:
        with open(options.binary, "rb") as file:
            data = file.read()
        offset, size = find_section(data)
    except (OSError, StampError) as error:
        print(f"stamp-build: {options.binary}: {error}", file=sys.stderr)
        return 1

    if options.print:
        stamp = data[offset:offset + size]
        text = stamp.rstrip(b"\0")
        print(text.decode("ascii", "backslashreplace") if text else "(not stamped)", end="" if text else "\n")
        return 0

    if not options.commit or not options.date:
        parser.error("give --commit and --date, or --print")
    try:
        stamp = encode(options.commit, options.date)
    except ValueError as error:
        parser.error(str(error))
    with open(options.binary, "r+b") as file:
        file.seek(offset)
        file.write(stamp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
