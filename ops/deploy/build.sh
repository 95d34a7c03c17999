#!/usr/bin/env bash
# The deployed build of `allot`: the one place its build flags live (release.sh, measure-sizing.sh
# and the container build use it; the memory and scale benchmarks measure what it builds).
#
#   ops/deploy/build.sh        builds .build/static/release/allot
#
#  * --static-swift-stdlib: the Swift runtime and Foundation linked in, only the parts used;
#  * linked by lld with packed relative relocations (-z pack-relative-relocs, DT_RELR): the
#    binary's ~87,000 relative relocations take 16 KiB instead of a 2 MiB table read at every
#    start (needs glibc 2.36 or newer at run time, as Debian 12 has);
#  * every function in a section of its own (-function-sections), and the functions a serving
#    process runs placed first, together, in the order of ops/deploy/allot.order
#    (ops/deploy/order-file.py writes it): the kernel maps the whole 64 KiB block around each page
#    of text a fault touches, so serving code packed together keeps the compiler, the analyzer and
#    the CLI out of a server's memory. A stale order file costs memory, never correctness: names
#    it has that the binary lacks are ignored, functions it lacks are placed as usual.
# docs/performance.md ("Resident memory of allot serve") has what each of these saves.
set -euo pipefail
cd "$(dirname "$0")/../.."

scratch=.build/static
order=ops/deploy/allot.order
compile_flags=(-Xswiftc -use-ld=lld -Xswiftc -Xfrontend -Xswiftc -function-sections)
link_flags=(-Xlinker -z -Xlinker pack-relative-relocs
  -Xlinker "--symbol-ordering-file=$PWD/$order" -Xlinker --no-warn-symbol-ordering)

# SwiftPM does not recompile objects when only -Xswiftc flags change, nor relink when the link
# flags or the order file change. So a stamp records what the last build.sh used and the binary it
# linked: objects are removed when they were built with other flags, or when another build (a
# plain `swift build --scratch-path .build/static`) has linked since and may have recompiled some
# without them; the binary is removed when the link flags or the order changed.
stamp="$scratch/allot-deployed-build"
binary="$scratch/release/allot"
wanted_flags="flags: ${compile_flags[*]}"
wanted_link="link: ${link_flags[*]} $(sha256sum "$order" | cut -d' ' -f1)"
if [ -d "$scratch" ]; then
  stamped_binary=$(sed -n 3p "$stamp" 2>/dev/null)
  if [ "$(sed -n 1p "$stamp" 2>/dev/null)" != "$wanted_flags" ]; then
    echo "build: objects in $scratch were built with other flags; rebuilding them" >&2
    find "$scratch" -name '*.o' -delete
  elif [ -e "$binary" ] && [ "binary: $(sha256sum "$binary" | cut -d' ' -f1)" != "$stamped_binary" ]; then
    echo "build: $binary was linked by another build; rebuilding its objects" >&2
    find "$scratch" -name '*.o' -delete
  fi
  if [ "$(sed -n 2p "$stamp" 2>/dev/null)" != "$wanted_link" ]; then
    rm -f "$binary"
  fi
fi
swift build -c release --static-swift-stdlib --product allot --scratch-path "$scratch" "${compile_flags[@]}" "${link_flags[@]}"
readelf -d "$binary" | grep RELR > /dev/null || { echo "build: $binary has no packed relocations (DT_RELR)" >&2; exit 1; }
printf '%s\n%s\nbinary: %s\n' "$wanted_flags" "$wanted_link" "$(sha256sum "$binary" | cut -d' ' -f1)" > "$stamp"

# How much of the order the binary still has: names vanish as code changes, and what they named is
# then placed as usual (more resident memory, nothing else). Regenerate below 80 %.
python3 - "$binary" "$order" <<'PY'
import subprocess, sys
defined = set(subprocess.run(["nm", "--defined-only", "--format=just-symbols", sys.argv[1]], capture_output=True, text=True, check=True).stdout.split())
names = [line.strip() for line in open(sys.argv[2]) if line.strip()]
found = sum(name in defined for name in names)
share = found / len(names) if names else 0
print(f"build: {found} of the {len(names)} functions of {sys.argv[2]} are in the binary ({share:.0%})")
if share < 0.8:
    print(f"build: warning: the order file is stale; regenerate it (ops/deploy/order-file.py)", file=sys.stderr)
PY
