#!/usr/bin/env bash
# Benchmark of `vmarchive find` across 50 points with the file index.
# Makes an ext4 filesystem of FILES (default 30000) generated files, ingests
# POINTS (default 50) points of it, each after a guest-like change
# (debugfs writes one new file and removes one), indexes every point
# (time and size per point), then times `vmarchive find` over all points
# for a selective, a broad, a subtree and a matchless pattern: cold (first
# run) and warm (median of RUNS, default 3, by wall time): wall time, CPU
# time (user + system) and max RSS.
#   [FILES=30000] [POINTS=50] [RUNS=3] [REUSE=1] bench/find.sh [WORKDIR]
# REUSE=1 with a WORKDIR from an earlier run keeps its repository and only
# rebuilds the binary.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
files=${FILES:-30000} points=${POINTS:-50} runs=${RUNS:-3}
for t in mke2fs debugfs /usr/bin/time; do
	command -v "$t" >/dev/null || { echo "find.sh: $t not installed (make deps installs it)" >&2; exit 1; }
done
work=${1:-$(mktemp -d)}
[ -n "${1:-}" ] || trap 'rm -rf "$work"' EXIT
mkdir -p "$work"
(cd "$here/.." && go build -o "$work/vmarchive" ./cmd/vmarchive && go build -o "$work/genfind" ./bench/genfind)
export VMARCHIVE_REPO=$work/repo HOME=$work
if [ -n "${REUSE:-}" ] && [ -d "$work/repo" ]; then
	echo "reusing the repository in $work/repo"
else
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
fi
# run PATTERN OK prints "WALL CPU RSS" (seconds, seconds, KiB); find's
# output goes to $work/out. find's exit status must be one of OK ("01":
# something matched or nothing did, which a small FILES may make so; "1"
# for the pattern nothing matches): any other, an error (2) above all,
# aborts the bench rather than timing a failure.
run() {
	local rc=0
	/usr/bin/time -o "$work/time" -f "%e %U %S %M" "$work/vmarchive" find bench "$1" >"$work/out" 2>"$work/err" || rc=$?
	if [ "${#rc}" != 1 ] || [[ $2 != *$rc* ]]; then
		echo "find.sh: vmarchive find '$1' exited $rc, want one of $2:" >&2
		cat "$work/err" >&2
		exit 1
	fi
	# time puts "Command exited with non-zero status 1" first then.
	tail -1 "$work/time" | awk '{ printf "%.2f %.2f %d\n", $1, $2 + $3, $4 }'
}
show() { awk '{ printf "%.2f s wall, %.2f s CPU, %d MiB max RSS", $1, $2, $3 / 1024 }'; }
for case in '01 /Users/*/project01*/**/report*.docx' '01 *.docx' '01 disk0/fs/Users/user07/**' '1 no-such-file*'; do
	want=${case%% *} pat=${case#* }
	cold=$(run "$pat" "$want" | show) # a failure exits here (set -e, pipefail)
	echo "find '$pat' across $points points: cold $cold"
	all=""
	for ((r = 0; r < runs; r++)); do
		one=$(run "$pat" "$want")
		all="$all$one"$'\n'
	done
	med=$(echo "$all" | grep . | sort -n | sed -n "$(((runs + 1) / 2))p")
	echo "  warm (median of $runs): $(echo "$med" | show); $(grep -c '^disk0' "$work/out" || true) paths, $(grep -c '^  ' "$work/out" || true) runs listed"
	echo "  warm runs (wall CPU KiB): $(echo "$all" | grep . | tr '\n' ';')"
done
