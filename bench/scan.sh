#!/usr/bin/env bash
# Anomaly scan benchmark (issue 19): `vmarchive scan` of a point pair of a
# GPT disk (SIZE_MIB, default 512) whose ext4 volume holds /usr/share (as
# much as fits in 60% of the disk) and 4 files of random data, where the
# second point has 1% of the disk rewritten through a read-write fuse2fs
# mount (128 KiB writes of random bytes into the random files), against
# reading the whole disk of the point back (`vmarchive cat`). The scan's
# file-level part is a diff that compares each changed file's two versions
# side by side up to their first difference (diff.Options.NoHash): here 4
# large files take all the writes. `vmarchive diff`, which hashes every
# version it shows, is timed beside it.
# Images are
# cached in .cache/bench (scan-a.raw, scan-b.raw); the repository is
# temporary.
set -euo pipefail
cd "$(dirname "$0")/.."
mib=${SIZE_MIB:-512}
cache=$PWD/.cache/bench
mkdir -p "$cache"
a=$cache/scan-a.raw
b=$cache/scan-b.raw
work=$(mktemp -d /tmp/vmarchive-sbench.XXXXXX)
mnt=$work/mnt
cleanup() {
	mountpoint -q "$mnt" 2>/dev/null && fusermount -u "$mnt"
	rm -rf "$work"
}
trap cleanup EXIT
vma=$work/vmarchive
go build -o "$vma" ./cmd/vmarchive

if [ ! -s "$a" ]; then
	src=$work/src
	mkdir -p "$src/share" "$src/big"
	(cd /usr/share && find . -type f -size -4M | sort | head -n 100000 |
		awk -v max=$((mib * 6 / 10 * 1024)) '{print}' |
		tar -cf - -T - 2>/dev/null | head -c $((mib * 6 / 10 << 20)) | tar -xf - -C "$src/share" 2>/dev/null) || true
	for i in 1 2 3 4; do head -c $((mib / 16))M /dev/urandom >"$src/big/media$i.bin"; done
	bash testimages/disk-from-tree.sh "$src" "$a.tmp" "$mib"
	rm -rf "$src"
	mv "$a.tmp" "$a"
	rm -f "$b"
fi
off=$(($(sgdisk -i 1 "$a" | awk '/First sector/ {print $3}') * 512))
if [ ! -s "$b" ]; then
	cp --sparse=always "$a" "$b.tmp"
	mkdir -p "$mnt"
	fuse2fs "$b.tmp" "$mnt" -o "rw,offset=$off"
	RANDOM=11
	blocks=$((mib / 16 * 256 - 32)) # 4 KiB blocks of a media file, less one write
	for ((i = 0; i < mib * 1024 / 100 / 128; i++)); do
		dd if=/dev/urandom of="$mnt/big/media$((RANDOM % 4 + 1)).bin" bs=4096 seek=$((((RANDOM << 15) | RANDOM) % blocks)) count=32 conv=notrunc status=none
	done
	fusermount -u "$mnt"
	mv "$b.tmp" "$b"
fi

export VMARCHIVE_REPO=$work/repo
pa=2026-11-20T00:00:00Z pb=2026-11-21T00:00:00Z
"$vma" init >/dev/null
"$vma" ingest --vm bench --point-time $pa disk0="$a" >/dev/null
"$vma" ingest --vm bench --point-time $pb disk0="$b" >/dev/null

# t NAME WANT ARGS...: times vmarchive ARGS, whose exit status must be WANT.
t() {
	local name=$1 want=$2 rc=0
	shift 2
	/usr/bin/time -f '%e s %M KiB' -o "$work/time" "$vma" "$@" >"$work/out" 2>"$work/err" || rc=$?
	if [ "$rc" != "$want" ]; then
		echo "vmarchive $*: exit $rc, want $want" >&2
		cat "$work/err" >&2
		exit 1
	fi
	printf '%-40s %s\n' "$name" "$(tail -n 1 "$work/time")"
}
"$vma" diff bench $pa $pb --blocks --json >"$work/report.json" || [ $? = 1 ]
blocks=$(grep -m1 '"changed_bytes"' "$work/report.json" | tr -dc 0-9)
size=$(stat -c %s "$a")
echo
echo "disk: $((size >> 20)) MiB GPT, ext4 $(debugfs -R stats "$b?offset=$off" 2>/dev/null | awk -F: '/^Inode count/ {i=$2} /^Free inodes/ {f=$2} END {print i-f}') inodes; $(nproc) cores"
echo "changed: $blocks bytes in 4 KiB blocks ($(awk -v c="$blocks" -v s="$size" 'BEGIN{printf "%.2f", 100*c/s}')% of the disk)"
t "vmarchive scan (the pair)" 0 scan bench --from $pb
head -n 2 "$work/out" | cut -c1-160 | sed 's/^/  /'
t "vmarchive scan (again)" 0 scan bench --from $pb
t "vmarchive diff (its file-level part)" 1 diff bench $pa $pb
t "vmarchive cat (the whole disk of B)" 0 cat --vm bench --point $pb --disk disk0 -o /dev/null
