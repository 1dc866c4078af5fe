#!/bin/bash
# Builds a small NTFS image with files that cannot be read from the volume
# alone, made through ntfs-3g:
#   cloud.bin      OneDrive placeholder: reparse tag 0x9000001A
#                  (IO_REPARSE_TAG_CLOUD_1) on a sparse, empty-data file
#   cloud-dir/     a directory with the same tag (stays a directory)
#   efs.bin        30000 bytes of data; the Go test copies the image and
#                  sets ATTR_IS_ENCRYPTED on its $DATA record header, which
#                  ntfs-3g cannot do (see TestUnreadableFiles)
#   plain.bin      an ordinary file, for contrast
# Usage: special.sh OUTPUT.img   (needs root + /dev/fuse)
set -euo pipefail
out=$1
mnt=$(mktemp -d)
cleanup() { mountpoint -q "$mnt" && umount "$mnt"; rmdir "$mnt"; }
trap cleanup EXIT
rm -f "$out"
truncate -s 16M "$out"
mkntfs -F -Q -f -q -L special "$out" >/dev/null 2>&1
ntfs-3g "$out" "$mnt"
# REPARSE_DATA_BUFFER: tag, data length, reserved, then opaque provider
# data (here 16 bytes; real placeholders carry a larger blob).
cloud=1a000090100000000102030405060708090a0b0c0d0e0f10
truncate -s 123456 "$mnt/cloud.bin"
setfattr -n system.ntfs_reparse_data -v "0x$cloud" "$mnt/cloud.bin"
mkdir "$mnt/cloud-dir"
setfattr -n system.ntfs_reparse_data -v "0x$cloud" "$mnt/cloud-dir"
head -c 30000 /dev/urandom > "$mnt/efs.bin"
printf 'plain\n' > "$mnt/plain.bin"
umount "$mnt"
