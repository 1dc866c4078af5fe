#!/usr/bin/env bash
# Builds two versions of a GPT disk for the web UI's browser test, A and
# B, each with p1 ext4 (mke2fs -d of TREE) and p2 NTFS (mkntfs, filled
# through an ntfs-3g mount: win/readme.txt, win/data.bin). B is a copy of
# A changed in known ways: on p1 (debugfs -w) docs/report.txt rewritten
# (REPORT2's bytes), docs/added.txt added, docs/latest removed and bulk/
# with 120 files added (more than a page); on p2 (ntfs-3g) win/readme.txt
# appended to and win/data.bin removed.
#   pair.sh TREE REPORT2 OUTDIR    (root, /dev/fuse; writes OUTDIR/A.raw, B.raw)
set -euo pipefail
tree=$1 report2=$2 out=$3
mkdir -p "$out"
work=$(mktemp -d)
mnt=$work/mnt
mkdir "$mnt"
unmount() { if mountpoint -q "$mnt"; then fusermount -u "$mnt" 2>/dev/null || umount "$mnt"; fi; }
trap 'unmount; rm -rf "$work"' EXIT

# part N DISK: byte offset and length of partition N.
part() {
	local start end
	start=$(sgdisk -i "$1" "$2" | awk '/First sector/ {print $3}')
	end=$(sgdisk -i "$1" "$2" | awk '/Last sector/ {print $3}')
	echo $((start * 512)) $(((end - start + 1) * 512))
}
extract() { # extract N DISK IMG
	local off len
	read -r off len < <(part "$1" "$2")
	rm -f "$3"
	dd if="$2" of="$3" bs=1M iflag=skip_bytes,count_bytes skip="$off" count="$len" conv=sparse status=none
}
putback() { # putback N IMG DISK
	local off len
	read -r off len < <(part "$1" "$3")
	dd if="$2" of="$3" bs=1M oflag=seek_bytes seek="$off" conv=notrunc,sparse status=none
}

a=$out/A.raw b=$out/B.raw
rm -f "$a" "$b"
truncate -s 20M "$a"
sgdisk -o -n 1:1MiB:+9MiB -t 1:8300 -c 1:linux -n 2:0:0 -t 2:0700 -c 2:windows "$a" >/dev/null
read -r off1 len1 < <(part 1 "$a")
read -r off2 len2 < <(part 2 "$a")
truncate -s "$len1" "$work/p1.img"
mke2fs -q -F -t ext4 -d "$tree" "$work/p1.img"
putback 1 "$work/p1.img" "$a"
truncate -s "$len2" "$work/p2.img"
mkntfs -F -Q -q -p $((off2 / 512)) -H 64 -S 32 -s 512 -c 4096 -L windows "$work/p2.img" >/dev/null 2>&1
ntfs-3g "$work/p2.img" "$mnt"
mkdir "$mnt/win"
printf 'hello from NTFS\r\n' >"$mnt/win/readme.txt"
head -c 100000 /dev/urandom >"$mnt/win/data.bin"
unmount
putback 2 "$work/p2.img" "$a"

cp --sparse=always "$a" "$b"
{
	echo "rm /docs/report.txt"
	echo "write $report2 /docs/report.txt"
	echo "write $report2 /docs/added.txt"
	echo "rm /docs/latest"
	echo "mkdir /bulk"
	for i in $(seq -w 1 120); do echo "write $report2 /bulk/f$i.txt"; done
} >"$work/b.cmd"
debugfs -w -f "$work/b.cmd" "$work/p1.img" >"$work/debugfs.out" 2>&1
if grep -q -i "error\|not found\|could not" "$work/debugfs.out"; then
	cat "$work/debugfs.out" >&2
	exit 1
fi
putback 1 "$work/p1.img" "$b"
ntfs-3g "$work/p2.img" "$mnt"
printf 'second line\r\n' >>"$mnt/win/readme.txt"
rm "$mnt/win/data.bin"
unmount
putback 2 "$work/p2.img" "$b"
