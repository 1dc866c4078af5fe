#!/usr/bin/env bash
# Forensic diff benchmark (issue 7): `vmarchive diff` of two points of a
# 4 GiB GPT disk whose ext4 volume holds a realistic tree (/usr/share, Go's
# tree and module cache, the system libraries, 20000 small files: about
# 100k files, plus 1 GiB of large files; about 3 GiB used), where the
# second point has about 1% of the disk's blocks changed through a
# read-write fuse2fs mount: in-place writes into the large files, small
# files appended to, removed and added. Target: < 5 s.
# Images are cached in .cache/bench (diff-a.raw, diff-b.raw).
set -euo pipefail
cd "$(dirname "$0")/.."
cache=$PWD/.cache/bench
mkdir -p "$cache"
a=$cache/diff-a.raw
b=$cache/diff-b.raw
work=$(mktemp -d /tmp/vmarchive-dbench.XXXXXX)
mnt=$work/mnt
cleanup() {
	mountpoint -q "$mnt" 2>/dev/null && fusermount -u "$mnt"
	rm -rf "$work"
}
trap cleanup EXIT
vma=$work/vmarchive
go build -o "$vma" ./cmd/vmarchive

if [ ! -s "$a" ]; then
	echo "building $a (a few minutes)" >&2
	src=$work/src
	mkdir -p "$src/lib" "$src/many" "$src/big"
	cp -a /usr/share /usr/local/go "$src/" 2>/dev/null || true
	cp -a /root/go/pkg/mod "$src/gomod" 2>/dev/null || true
	cp -a /usr/lib/x86_64-linux-gnu "$src/lib/" 2>/dev/null || true
	(cd "$src/many" && seq -f 'file%05g.txt' 1 20000 | xargs -n 2000 sh -c 'for f; do echo "$f" >"$f"; done' sh)
	for i in 1 2 3 4; do head -c 256M /dev/urandom >"$src/big/disk$i.bin"; done
	bash testimages/disk-from-tree.sh "$src" "$a.tmp" 4096
	rm -rf "$src"
	mv "$a.tmp" "$a"
	rm -f "$b"
fi
off=$(($(sgdisk -i 1 "$a" | awk '/First sector/ {print $3}') * 512))
if [ ! -s "$b" ]; then
	echo "building $b (1% of the disk changed through fuse2fs)" >&2
	cp --sparse=always "$a" "$b.tmp"
	mkdir -p "$mnt"
	fuse2fs "$b.tmp" "$mnt" -o "rw,offset=$off"
	RANDOM=7
	# 300 writes of 128 KiB into the large files: 37.5 MiB.
	for ((i = 0; i < 300; i++)); do
		f=$mnt/big/disk$((RANDOM % 4 + 1)).bin
		dd if=/dev/urandom of="$f" bs=4096 seek=$((((RANDOM << 15) | RANDOM) % 65504)) count=32 conv=notrunc status=none
	done
	# 2000 small files appended to, 500 removed, 500 added (4 KiB each).
	for ((i = 1; i <= 2000; i++)); do printf 'changed\n' >>"$mnt/many/$(printf 'file%05d.txt' $((i * 7)))"; done
	for ((i = 1; i <= 500; i++)); do rm "$mnt/many/$(printf 'file%05d.txt' $((i * 7 + 3)))"; done
	mkdir "$mnt/new"
	for ((i = 1; i <= 500; i++)); do head -c 4096 /dev/urandom >"$mnt/new/n$i.bin"; done
	fusermount -u "$mnt"
	mv "$b.tmp" "$b"
fi

# DIFF_BENCH_REPO keeps the repository (for BenchmarkCompareRepo in
# package diff); by default it is a temporary one.
export VMARCHIVE_REPO=${DIFF_BENCH_REPO:-$work/repo}
pa=2026-11-20T00:00:00Z pb=2026-11-21T00:00:00Z
if [ ! -d "$VMARCHIVE_REPO" ]; then
	"$vma" init >/dev/null
	"$vma" ingest --vm bench --point-time $pa disk0="$a" >/dev/null
	"$vma" ingest --vm bench --point-time $pb disk0="$b" >/dev/null
fi

# t NAME ARGS...: times vmarchive ARGS; exit status 1 (different) is expected.
t() {
	local name=$1 rc=0
	shift
	/usr/bin/time -f '%e s %M KiB' -o "$work/time" "$vma" "$@" >"$work/out" 2>"$work/err" || rc=$?
	if [ "$rc" != 1 ]; then
		echo "vmarchive $*: exit $rc, want 1" >&2
		cat "$work/err" >&2
		exit 1
	fi
	printf '%-36s %s\n' "$name" "$(tail -n 1 "$work/time")"
}
"$vma" diff bench $pa $pb --json >"$work/report.json" || [ $? = 1 ]
changed=$(grep -m1 '"changed_bytes"' "$work/report.json" | tr -dc 0-9)
"$vma" diff bench $pa $pb --blocks --json >"$work/report.json" || [ $? = 1 ]
blocks=$(grep -m1 '"changed_bytes"' "$work/report.json" | tr -dc 0-9)
size=$(stat -c %s "$a")
echo
stats=$(debugfs -R stats "$b?offset=$off" 2>/dev/null)
field() { awk -F: -v k="$1" '$1 == k {gsub(/ /, "", $2); print $2}' <<<"$stats"; }
used_inodes=$(($(field "Inode count") - $(field "Free inodes")))
used_gib=$(awk -v b=$(($(field "Block count") - $(field "Free blocks"))) -v s="$(field "Block size")" 'BEGIN{printf "%.1f", b*s/2^30}')
echo "disk: $(awk -v b="$size" 'BEGIN{printf "%.1f GiB", b/2^30}') GPT, ext4 with $used_inodes inodes, $used_gib GiB used; $(nproc) cores"
pct() { awk -v c="$1" -v s="$size" 'BEGIN{printf "%.2f", 100*c/s}'; }
echo "changed: $blocks bytes in 4 KiB blocks ($(pct "$blocks")% of the disk); $changed bytes in whole chunks ($(pct "$changed")%)"
t "vmarchive diff" diff bench $pa $pb
echo "  $(grep -c . "$work/out") lines of changes"
t "vmarchive diff (again)" diff bench $pa $pb
t "vmarchive diff --blocks" diff bench $pa $pb --blocks
echo "  $(grep -c '^@' "$work/out" || true) changed block ranges"
t "vmarchive diff --json" diff bench $pa $pb --json
echo "target: < 5 s"
