#!/usr/bin/env bash
# Builds a GPT disk whose three guest filesystems hold the same tree of
# directories and regular files, for the test restore tests:
# p1 FAT16 (mkfs.fat + mcopy), p2 NTFS (mkntfs + an ntfs-3g mount), p3 ext4
# (mke2fs -d, which also gets a hard link). VERSION 2 changes the tree: a
# file grows, one is removed, one added.
#   disk.sh OUT.raw TREE [VERSION]   (root, /dev/fuse; TREE is made and kept)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/diff/lib.sh"
out=$1 tree=$2 ver=${3:-1}
work=$(mktemp -d)
mnt=$work/mnt
mkdir "$mnt"
trap 'unmount "$mnt"; rm -rf "$work"' EXIT
export MTOOLS_SKIP_CHECK=1 LC_ALL=C

# rnd SEED BYTES: deterministic pseudo-random bytes (AES-CTR of zeros).
rnd() { head -c "$2" /dev/zero | openssl enc -aes-256-ctr -nosalt -K "$(printf '%064x' "$1")" -iv 0 2>/dev/null; }

rm -rf "$tree"
mkdir -p "$tree"/{docs,data,deep/a/b/c,empty-dir}
: >"$tree/docs/empty.txt"
seq 1 2000 | sed 's/^/a line of text /' >"$tree/docs/report.txt"
rnd 1 3145728 >"$tree/data/random.bin"
rnd 2 300000 >"$tree/data/medium.bin"
for i in $(seq 1 40); do echo "file $i of version $ver" >"$tree/deep/a/b/c/f$i.txt"; done
if [ "$ver" = 2 ]; then
	seq 1 100 >>"$tree/docs/report.txt"
	rm "$tree/data/medium.bin"
	echo "new in version 2" >"$tree/docs/added.txt"
fi
find "$tree" -exec touch -h -d '2026-11-20 01:00:00 UTC' {} +

rm -f "$out"
truncate -s 80M "$out"
sgdisk -o -n 1:1MiB:+16MiB -t 1:0700 -n 2:0:+28MiB -t 2:0700 -n 3:0:0 -t 3:8300 "$out" >/dev/null
# partition N: prints its byte offset and length.
part() {
	local s e
	s=$(sgdisk -i "$1" "$out" | awk '/First sector/ {print $3}')
	e=$(sgdisk -i "$1" "$out" | awk '/Last sector/ {print $3}')
	echo $((s * 512)) $(((e - s + 1) * 512))
}
put() { dd if="$1" of="$out" bs=1M oflag=seek_bytes seek="$2" conv=notrunc,sparse status=none; }

read -r off len < <(part 1)
truncate -s "$len" "$work/fat.img"
mkfs.fat -F 16 -n TESTFAT -i 1234ABCD "$work/fat.img" >/dev/null
mcopy -i "$work/fat.img" -s -m -Q "$tree"/* ::/
put "$work/fat.img" "$off"

read -r off len < <(part 2)
truncate -s "$len" "$work/ntfs.img"
mkntfs -F -Q -q -p $((off / 512)) -H 64 -S 32 -L testntfs "$work/ntfs.img" >/dev/null 2>&1
ntfs-3g "$work/ntfs.img" "$mnt"
cp -a "$tree"/. "$mnt"/
unmount "$mnt"
put "$work/ntfs.img" "$off"

read -r off len < <(part 3)
truncate -s "$len" "$work/ext4.img"
mkdir "$work/ext4tree"
cp -a "$tree"/. "$work/ext4tree"/
ln "$work/ext4tree/data/random.bin" "$work/ext4tree/data/random-link.bin"
mke2fs -q -F -t ext4 -L testext4 -d "$work/ext4tree" "$work/ext4.img"
put "$work/ext4.img" "$off"
