#!/usr/bin/env python3
"""Checks an `allot analyze --format html` page (run by AllotAnalysisTests).

  check_html.py PAGE.html SCREENSHOT.png ok|mismatch METRICS

The page: well-formed (every element closed, in order), each inline SVG parses as XML, one effect
chart per metric, the exposures chart, no script. The screenshot (headless Chromium's): a PNG whose
pixels show the sample-ratio box in the expected colour (green for ok, red for mismatch), decoded
here with zlib alone.
"""
import struct
import sys
import xml.etree.ElementTree as ET
import zlib
from html.parser import HTMLParser

VOID = {"meta", "br", "img", "input", "link", "hr", "rect", "line", "circle"}
failures = []


class Balance(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack = []
        self.tags = {}

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            failures.append(f"</{tag}> closes <{self.stack[-1] if self.stack else 'nothing'}>")
        else:
            self.stack.pop()


def check_page(path, metrics):
    text = open(path, encoding="utf-8").read()
    parser = Balance()
    parser.feed(text)
    if parser.stack:
        failures.append(f"unclosed elements: {parser.stack}")
    if parser.tags.get("script"):
        failures.append("the page has a script")
    start = 0
    charts = 0
    while (start := text.find("<svg", start)) >= 0:
        end = text.index("</svg>", start) + len("</svg>")
        try:
            ET.fromstring(text[start:end])
        except ET.ParseError as error:
            failures.append(f"an SVG does not parse: {error}")
        charts += 1
        start = end
    if charts != metrics + 1:
        failures.append(f"{charts} charts, expected {metrics + 1} (exposures and one per metric)")


def decode_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit("not a PNG")
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
            if depth != 8 or colour not in (2, 6):
                raise SystemExit(f"unexpected PNG format: depth {depth}, colour type {colour}")
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = previous[i]
            c = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        previous = line
    return width, height, channels, rows


def count(rows, channels, colour):
    r, g, b = colour
    total = 0
    for row in rows:
        for i in range(0, len(row), channels):
            if abs(row[i] - r) <= 3 and abs(row[i + 1] - g) <= 3 and abs(row[i + 2] - b) <= 3:
                total += 1
    return total


def main():
    page, screenshot, expected, metrics = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    check_page(page, metrics)
    width, height, channels, rows = decode_png(screenshot)
    ok = count(rows, channels, (0xE3, 0xF4, 0xE1))
    mismatch = count(rows, channels, (0xFB, 0xE3, 0xE3))
    shown, hidden = (ok, mismatch) if expected == "ok" else (mismatch, ok)
    if shown < 2000 or hidden > 0:
        failures.append(f"screenshot {width}x{height}: {ok} pixels of the OK box colour, {mismatch} of the mismatch colour; expected {expected}")
    for failure in failures:
        print("FAIL", failure)
    print(f"{2 - min(2, len(failures))} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


main()
