#!/bin/bash
# Builds a small NTFS image holding one WOF (CompactOS) compressed file, as
# Windows lays it out: a sparse unnamed $DATA of the uncompressed size, a
# WofCompressedData stream and a reparse point with tag 0x80000017.
# Usage: wof.sh OUTPUT.img COMPRESSED-STREAM-FILE UNCOMPRESSED-SIZE ALGORITHM
#   ALGORITHM: 0 XPRESS4K, 1 LZX, 2 XPRESS8K, 3 XPRESS16K
set -euo pipefail
out=$1 stream=$2 size=$3 alg=$4
mnt=$(mktemp -d)
cleanup() { mountpoint -q "$mnt" && umount "$mnt"; rmdir "$mnt"; }
trap cleanup EXIT
rm -f "$out"
truncate -s 16M "$out"
mkntfs -F -Q -f -q "$out" >/dev/null 2>&1
ntfs-3g "$out" "$mnt"
truncate -s "$size" "$mnt/compact.bin"
# Too long for one argument: feed setfattr a dump file instead.
{ printf '# file: %s\nuser.WofCompressedData=0x' "$mnt/compact.bin"; xxd -p "$stream" | tr -d '\n'; printf '\n\n'; } > "$mnt.dump"
setfattr --restore="$mnt.dump"
rm -f "$mnt.dump"
# REPARSE_POINT: tag, data length 16, reserved; WOF_EXTERNAL_INFO {1, 2};
# FILE_PROVIDER_EXTERNAL_INFO_V1 {1, algorithm}.
setfattr -n system.ntfs_reparse_data -v "0x1700008010000000010000000200000001000000$(printf %02x "$alg")000000" "$mnt/compact.bin"
umount "$mnt"
