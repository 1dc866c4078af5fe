#!/usr/bin/env bash
# Benchmark of `vmarchive find` across 50 points with the file index.
# Makes an ext4 filesystem of FILES (default 30000) generated files, ingests
# POINTS (default 50) points of it, each after a guest-like change
# (debugfs writes one new file and removes one), indexes every point
# (time and size per point), then times `vmarchive find` over all points,
# cold (first run) and warm (best of 3), wall time and max RSS.
#   [FILES=30000] [POINTS=50] bench/find.sh [WORKDIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
files=${FILES:-30000} points=${POINTS:-50}
for t in mke2fs debugfs /usr/bin/time; do
	command -v "$t" >/dev/null || { echo "find.sh: $t not installed, skipping"; exit 0; }
done
work=${1:-$(mktemp -d)}
[ -n "${1:-}" ] || trap 'rm -rf "$work"' EXIT
mkdir -p "$work"
(cd "$here/.." && go build -o "$work/vmarchive" ./cmd/vmarchive && go build -o "$work/genfind" ./bench/genfind)
export VMARCHIVE_REPO=$work/repo HOME=$work
rm -rf "$work/tree" "$work/repo"
"$work/genfind" tree "$work/tree" "$files"
truncate -s 0 "$work/fs.img" && truncate -s 384M "$work/fs.img"
mke2fs -q -F -t ext4 -d "$work/tree" "$work/fs.img"
"$work/vmarchive" init --chunk-size 1MiB >/dev/null
echo "changed" >"$work/new"
SECONDS=0
for ((i = 1; i <= points; i++)); do
	debugfs -w -R "write $work/new /Users/user01/new-$i.txt" "$work/fs.img" >/dev/null 2>&1
	debugfs -w -R "rm /Users/user02/project002/sub0/file$i.txt" "$work/fs.img" >/dev/null 2>&1 || true
	"$work/vmarchive" ingest --no-index --vm bench --point-time "$(date -u -d "2026-01-01 +$i hours" +%Y-%m-%dT%H:%M:%SZ)" disk0="$work/fs.img" >/dev/null
done
echo "ingest of $points points: ${SECONDS} s"
"$work/genfind" index "$work/repo" bench | tail -3
run() { /usr/bin/time -f "%e s wall, %M KiB max RSS" "$work/vmarchive" find bench "$@" 2>&1 >"$work/out" | tail -1; }
for pat in '/Users/*/project01*/**/report*.docx' '*.docx' 'disk0/fs/Users/user07/**'; do
	echo "find '$pat' across $points points: cold $(run "$pat")"
	best=""
	for _ in 1 2 3; do best="$best$(run "$pat")"$'\n'; done
	echo "  warm (3 runs): $(echo "$best" | grep . | sort -n | head -1); $(grep -c '^disk0' "$work/out") paths, $(grep -c '^  ' "$work/out") runs listed"
done
