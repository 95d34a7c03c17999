#!/usr/bin/env bash
# Builds a release of `allot` and packs it: a versioned tarball and a SHA-256 list.
#
#   ops/deploy/release.sh [--out DIR] [--binary FILE [--allow-dynamic-swift]] [--commit HEX --date RFC3339]
#
#  1. build: ops/deploy/build.sh (the static release build in .build/static, linked for a small
#     resident footprint), unless --binary names one already built;
#  2. check what it links (readelf -d): every NEEDED library must be listed in
#     ops/deploy/runtime-libraries.txt (the Swift runtime and Foundation are static); the highest
#     glibc symbol version it needs is reported (and glibc 2.36 for packed relocations);
#  3. strip it and stamp the build into it (commit and commit date, ops/deploy/stamp-build.py), then
#     ask it its version: `allot --version` names the tarball, so name and binary cannot disagree;
#  4. pack allot-VERSION-linux-ARCH.tar.gz reproducibly (sorted names, owner 0, every mtime the
#     commit time, gzip without a timestamp) and write DIR/SHA256SUMS for every tarball in DIR.
#
# --allow-dynamic-swift accepts a binary that links the Swift runtime dynamically (a debug build):
# the tests use it to check this script quickly; such a tarball only runs where the Swift runtime is
# installed. --commit/--date stamp given values (a container build has no .git); by default they
# come from git (HEAD, "-dirty" if tracked files changed, and HEAD's commit time in UTC).
# Exit status: 0 done; 1 the build or a check failed (nothing written to DIR); 64 usage error.
set -euo pipefail
cd "$(dirname "$0")/../.."

out=dist
binary=""
allow_dynamic_swift=false
commit=""
date=""
usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0" >&2; exit 64; }
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="${2:?}"; shift 2 ;;
    --binary) binary="${2:?}"; shift 2 ;;
    --allow-dynamic-swift) allow_dynamic_swift=true; shift ;;
    --commit) commit="${2:?}"; shift 2 ;;
    --date) date="${2:?}"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "release: unknown argument '$1'" >&2; usage ;;
  esac
done
fail() { echo "release: $*" >&2; exit 1; }

# The commit and its date: given, or from git.
if [ -z "$commit" ]; then
  commit=$(git rev-parse HEAD 2>/dev/null) || fail "not a git checkout: pass --commit and --date"
  [ -z "$(git status --porcelain --untracked-files=no)" ] || commit="$commit-dirty"
fi
if [ -z "$date" ]; then
  date=$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null) \
    || fail "cannot read the commit date: pass --date"
fi
epoch=$(date -u -d "$date" +%s 2>/dev/null) || fail "--date '$date' is not a date"

if [ -z "$binary" ]; then
  ops/deploy/build.sh
  binary=.build/static/release/allot
fi
[ -x "$binary" ] || fail "no executable at $binary"

# What it links.
needed=$(readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
allowed=$(grep -v '^#' ops/deploy/runtime-libraries.txt | awk 'NF { print $1 }')
unexpected=()
for library in $needed; do
  if grep -qxF "$library" <<<"$allowed"; then continue; fi
  if $allow_dynamic_swift && [[ "$library" =~ ^lib(swift|Foundation|_Foundation|dispatch|BlocksRuntime) ]]; then continue; fi
  unexpected+=("$library")
done
[ ${#unexpected[@]} -eq 0 ] || fail "$binary links libraries that ops/deploy/runtime-libraries.txt does not list: ${unexpected[*]}
(a Swift runtime library means the build was not made with --static-swift-stdlib)"
glibc=$(objdump -T "$binary" | grep -o 'GLIBC_[0-9.]*' | sort -t. -k1,1 -k2,2n -u -V | tail -1)
# Packed relative relocations (ops/deploy/build.sh) need a loader that reads them: glibc 2.36.
if objdump -p "$binary" | grep GLIBC_ABI_DT_RELR > /dev/null; then glibc="$glibc and GLIBC_ABI_DT_RELR (glibc 2.36)"; fi
echo "links: $(echo $needed); needs up to $glibc"

# Strip, stamp, and ask the binary its version.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
strip --strip-all -o "$work/allot" "$binary"
python3 ops/deploy/stamp-build.py "$work/allot" --commit "$commit" --date "$date" || fail "cannot stamp $binary"
version_line=$("$work/allot" --version) || fail "the stamped binary does not run"
version=${version_line%% *}
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]] || fail "'allot --version' printed '$version_line'"
grep -qF "commit $commit" <<<"$version_line" || fail "the stamp did not take: 'allot --version' printed '$version_line'"

# The tree: bin/, the systemd unit where systemd looks under a prefix, the monitoring files.
arch=$(uname -m)
name="allot-$version-linux-$arch"
root="$work/$name"
mkdir -p "$root/bin" "$root/lib/systemd/system" "$root/share/allot" "$root/share/doc/allot"
install -m 0755 "$work/allot" "$root/bin/allot"
install -m 0644 ops/deploy/systemd/allot-serve.service "$root/lib/systemd/system/"
install -m 0644 ops/deploy/systemd/allot-serve.env "$root/share/allot/"
install -m 0644 ops/deploy/runtime-libraries.txt ops/prometheus/allot-alerts.yml ops/prometheus/allot-exposure-alerts.yml ops/grafana/allot-dashboard.json "$root/share/allot/"
install -m 0644 README.md docs/deploy.md docs/server.md "$root/share/doc/allot/"
{
  echo "version $version"
  echo "commit $commit"
  echo "date $date"
  echo "needed $(echo $needed)"
  echo "glibc $glibc"
} >"$root/share/allot/BUILD"

mkdir -p "$out"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" --format=gnu \
  -C "$work" -cf - "$name" | gzip -n -6 >"$work/$name.tar.gz"
mv "$work/$name.tar.gz" "$out/$name.tar.gz"
(cd "$out" && sha256sum allot-*.tar.gz >SHA256SUMS)
echo "$out/$name.tar.gz"
echo "$version_line"
