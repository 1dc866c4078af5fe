#!/usr/bin/env bash
# Benchmark of `vmarchive timeline` (issue 19): a VM with an ext4 disk
# (mke2fs -d) and an NTFS disk (mkntfs, filled through ntfs-3g) of FILES
# generated files in all (default 100000, half each), POINTS points
# (default 30), each after a guest-like change on both disks (ext4 by
# debugfs, NTFS through an ntfs-3g mount: a file appended to, one renamed,
# one deleted, one added). Ingest builds each point's file index. Then
# times the timeline of all points as bodyfile and as jsonl, and of a
# --path subset: wall time, CPU time and max RSS, and the events written.
# The repository is kept in .cache/bench/timeline-FILES-POINTS and reused.
#   [FILES=100000] [POINTS=30] bench/timeline.sh     (root and /dev/fuse for ntfs-3g)
set -euo pipefail
cd "$(dirname "$0")/.."
files=${FILES:-100000} points=${POINTS:-30}
for t in mke2fs debugfs mkntfs ntfs-3g /usr/bin/time; do
	command -v "$t" >/dev/null || { echo "timeline.sh: $t not installed (make deps installs it)" >&2; exit 1; }
done
work=$PWD/.cache/bench/timeline-$files-$points
mkdir -p "$work"
go build -o "$work/vmarchive" ./cmd/vmarchive
go build -o "$work/genfind" ./bench/genfind
export VMARCHIVE_REPO=$work/repo HOME=$work
mnt=$work/mnt
cleanup() { mountpoint -q "$mnt" && umount "$mnt"; true; }
trap cleanup EXIT
if [ ! -s "$work/ext4.img" ] || [ ! -s "$work/ntfs.img" ]; then
	rm -rf "$work/repo" "$work/done" "$work/tree-e" "$work/tree-n"
	mkdir -p "$mnt"
	SECONDS=0
	"$work/genfind" tree "$work/tree-e" $((files / 2))
	"$work/genfind" tree "$work/tree-n" $((files / 2))
	truncate -s 0 "$work/ext4.img.tmp" && truncate -s 640M "$work/ext4.img.tmp"
	mke2fs -q -F -t ext4 -N $((files / 2 + 10000)) -d "$work/tree-e" "$work/ext4.img.tmp"
	truncate -s 0 "$work/ntfs.img.tmp" && truncate -s 640M "$work/ntfs.img.tmp"
	mkntfs -F -Q -f -q "$work/ntfs.img.tmp" >/dev/null 2>&1
	ntfs-3g "$work/ntfs.img.tmp" "$mnt"
	cp -r "$work/tree-n/." "$mnt/"
	umount "$mnt"
	rm -rf "$work/tree-e" "$work/tree-n"
	mv "$work/ext4.img.tmp" "$work/ext4.img"
	mv "$work/ntfs.img.tmp" "$work/ntfs.img"
	echo "images of $files files: ${SECONDS} s"
fi
# change I makes point I's guest-like change in directory I of genfind's
# tree on both disks: the first file rewritten in place, the second
# renamed, the third deleted, a new one added.
change() {
	local i=$1 d f
	d=Users/user$(printf %02d $((i % 20)))/project$(printf %03d $((i / 20 % 50)))/sub0
	mapfile -t f < <(debugfs -R "ls -p /$d" "$work/ext4.img" 2>/dev/null | awk -F/ '$3 ~ /^100/ { print $6 }' | head -3)
	debugfs -w -f - "$work/ext4.img" >/dev/null 2>&1 <<-CMDS
		zap_block -f /$d/${f[0]} -p 0x41 0
		ln /$d/${f[1]} /$d/renamed-${f[1]}
		unlink /$d/${f[1]}
		rm /$d/${f[2]}
		write $work/new /$d/new-$i.txt
	CMDS
	mkdir -p "$mnt"
	ntfs-3g "$work/ntfs.img" "$mnt"
	mapfile -t f < <(ls "$mnt/$d" | grep -v -e '^renamed-' -e '^new-' | head -3)
	echo "point $i" >>"$mnt/$d/${f[0]}"
	mv "$mnt/$d/${f[1]}" "$mnt/$d/renamed-${f[1]}"
	rm "$mnt/$d/${f[2]}"
	echo "new $i" >"$mnt/$d/new-$i.txt"
	umount "$mnt"
}
if [ ! -f "$work/done" ]; then
	rm -rf "$work/repo"
	"$work/vmarchive" init --chunk-size 1MiB >/dev/null
	echo "changed" >"$work/new"
	SECONDS=0
	for ((i = 1; i <= points; i++)); do
		((i == 1)) || change "$i"
		"$work/vmarchive" ingest --vm bench --point-time "$(date -u -d "2026-01-01 +$i hours" +%Y-%m-%dT%H:%M:%SZ)" \
			disk0="$work/ext4.img" disk1="$work/ntfs.img" >/dev/null
	done
	echo "ingest (with the file index) of $points points: ${SECONDS} s"
	touch "$work/done"
fi
# run NAME ARGS... times one timeline run: wall, CPU, max RSS, events.
run() {
	local name=$1
	shift
	/usr/bin/time -o "$work/time" -f "%e %U %S %M" "$work/vmarchive" timeline bench "$@" >"$work/out"
	awk -v n="$name" -v ev="$(wc -l <"$work/out")" -v pts="$points" \
		'{ printf "timeline %s across %d points: %.2f s wall, %.2f s CPU, %d MiB max RSS, %d lines\n", n, pts, $1, $2 + $3, $4 / 1024, ev }' "$work/time"
}
run "bodyfile" --format bodyfile
run "bodyfile (again)" --format bodyfile
echo "  events: $(grep -c '(vmarchive: renamed' "$work/out") renamed, $(grep -c '(vmarchive: deleted' "$work/out") deleted, $(grep -c '(vmarchive: content changed' "$work/out") changed, $(grep -c '(vmarchive: present' "$work/out") present"
# The images are changed point after point: a rerun needs them again.
echo "  (the repository and images are kept in $work; rm -r it to start again)"
run "jsonl" --format jsonl
run "--path '*renamed*' bodyfile" --path '*renamed*'
