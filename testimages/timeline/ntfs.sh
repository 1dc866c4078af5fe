#!/usr/bin/env bash
# Builds a bare NTFS volume (mkntfs) filled from TREE through an ntfs-3g
# mount, for checking timelines against fls.
#   ntfs.sh TREE OUT.img          (needs root and /dev/fuse for ntfs-3g)
set -euo pipefail
tree=$1 out=$2
mnt=$(mktemp -d)
cleanup() { mountpoint -q "$mnt" && umount "$mnt"; rmdir "$mnt"; }
trap cleanup EXIT
rm -f "$out"
truncate -s 8M "$out"
mkntfs -F -Q -f -q "$out" >/dev/null 2>&1
ntfs-3g "$out" "$mnt"
cp -r "$tree/." "$mnt/"
# An alternate data stream, which fls lists as NAME:STREAM.
setfattr -n user.ads -v hidden "$mnt/docs/report.txt"
umount "$mnt"
