#!/bin/bash
# Builds an NTFS image with one directory of 21000 entries (a three-level
# $I30 B+tree), populated through an ntfs-3g mount, plus a few files with
# data in it so reads can be checked too.
# Usage: bigdir.sh OUTPUT.img [ENTRIES]   (needs root + /dev/fuse)
set -euo pipefail
out=$1 n=${2:-21000}
mnt=$(mktemp -d)
cleanup() { mountpoint -q "$mnt" && umount "$mnt"; rmdir "$mnt"; }
trap cleanup EXIT
rm -f "$out"
truncate -s 96M "$out"
mkntfs -F -Q -f -q -L bigdir "$out" >/dev/null 2>&1
ntfs-3g "$out" "$mnt"
mkdir "$mnt/big"
cd "$mnt/big"
# Names of varying length and shape so index blocks hold varying counts.
seq 1 "$n" | awk '{ printf "f%06d-%s\n", $1, substr("abcdefghijklmnopqrstuvwxyz", 1, $1 % 27) }' | xargs touch
for i in 1 2 3 4 5; do head -c $((i * 7777)) /dev/urandom > "data-$i.bin"; done
mkdir sub && printf 'x' > sub/leaf
cd /
umount "$mnt"
