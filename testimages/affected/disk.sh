#!/usr/bin/env bash
# Builds a GPT disk for naming the files in damaged chunks: p1 ext4 (mke2fs
# -d) and p2 NTFS (mkntfs, filled through an ntfs-3g mount), each with a
# file of three names (hard links), a file of one, and a directory; p3 FAT
# (mkfs.fat, mcopy) with one file.
#   disk.sh OUT.raw          (needs root and /dev/fuse for ntfs-3g)
set -euo pipefail
out=$1
work=$(mktemp -d)
mnt=$work/mnt
cleanup() { mountpoint -q "$mnt" && umount "$mnt"; rm -rf "$work"; }
trap cleanup EXIT
t=$work/tree
mkdir -p "$t/data" "$t/other" "$t/dir"
head -c 600K /dev/urandom >"$t/data/big.bin"
ln "$t/data/big.bin" "$t/data/big-link.bin"
ln "$t/data/big.bin" "$t/other/big-again.bin"
head -c 600K /dev/urandom >"$t/data/solo.bin"
for i in $(seq 1 40); do echo "file $i" >"$t/dir/f$i.txt"; done
mke2fs -q -F -t ext4 -b 4096 -d "$t" "$work/e.img" 12M >/dev/null

truncate -s 12M "$work/n.img"
mkntfs -F -Q -f -q -c 4096 "$work/n.img" >/dev/null 2>&1
mkdir "$mnt"
ntfs-3g "$work/n.img" "$mnt"
cp -a "$t/." "$mnt/"
umount "$mnt"

mkfs.fat -C "$work/f.img" 6144 >/dev/null
mcopy -i "$work/f.img" "$t/data/solo.bin" ::solo.bin

rm -f "$out"
truncate -s 34M "$out"
sgdisk -o -n 1:1MiB:+12MiB -t 1:8300 -n 2:0:+12MiB -t 2:0700 -n 3:0:+6MiB -t 3:ef00 "$out" >/dev/null
imgs=("" "$work/e.img" "$work/n.img" "$work/f.img")
for p in 1 2 3; do
	start=$(sgdisk -i "$p" "$out" | awk '/First sector/ { print $3 }')
	img=${imgs[$p]}
	dd if="$img" of="$out" bs=512 seek="$start" conv=notrunc,sparse status=none
done
