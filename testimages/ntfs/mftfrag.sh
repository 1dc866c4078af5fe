#!/bin/bash
# Builds an NTFS image whose $MFT is fragmented into hundreds of one-cluster
# runs, so many that $MFT's record 0 needs an $ATTRIBUTE_LIST and extension
# records, all through ntfs-3g:
#   1. write 3000 one-cluster files (allocated one after another),
#   2. fill the rest of the volume with one large file,
#   3. truncate every fourth small file (its record stays, its cluster is
#      freed), leaving one-cluster holes (ntfs-3g places even- and
#      odd-numbered files in separate areas, so every other would free
#      whole areas),
#   4. create 2000 more files: $MFT must grow into the holes.
# Usage: mftfrag.sh OUTPUT.img   (needs root + /dev/fuse)
set -euo pipefail
out=$1
mnt=$(mktemp -d)
cleanup() { mountpoint -q "$mnt" && umount "$mnt"; rmdir "$mnt"; }
trap cleanup EXIT
rm -f "$out"
truncate -s 32M "$out"
mkntfs -F -Q -f -q -L mftfrag "$out" >/dev/null 2>&1
ntfs-3g "$out" "$mnt"
mkdir "$mnt/small" "$mnt/new"
for ((i = 0; i < 3000; i++)); do printf '%-4095d\n' "$i" > "$mnt/small/s$i"; done
head -c 100M /dev/urandom > "$mnt/filler" 2>/dev/null || true
for ((i = 0; i < 3000; i += 4)); do : > "$mnt/small/s$i"; done
for ((i = 0; i < 2000; i++)); do printf 'new file %d\n' "$i" > "$mnt/new/n$i"; done
umount "$mnt"
