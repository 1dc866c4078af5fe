#!/usr/bin/env bash
# Makes partition 1 of a disk from the pair scripts readable as a tree at
# DIR, read-only: fuse2fs -o ro for ext4, ntfs-3g -o ro for NTFS (on a copy
# of the partition next to DISK, DISK.p1, as ntfs-3g takes no offset), and
# for FAT a copy made by mcopy -s -m (no FUSE driver for FAT is assumed).
# Unmount the FUSE kinds with fusermount -u DIR.
#   mount.sh ext4|ntfs|fat DISK DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
kind=$1 disk=$2 dir=$3
mkdir -p "$dir"
read -r off _ < <(part1 "$disk")
case $kind in
ext4) fuse2fs "$disk" "$dir" -o "ro,offset=$off" ;;
ntfs)
	extract "$disk" "$disk.p1"
	ntfs-3g -o ro "$disk.p1" "$dir"
	;;
fat)
	MTOOLS_SKIP_CHECK=1 TZ=UTC mcopy -s -m -n -i "$disk@@$off" '::/*' "$dir/"
	;;
*)
	echo "mount.sh: unknown kind $kind" >&2
	exit 2
	;;
esac
