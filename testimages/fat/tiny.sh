#!/bin/bash
# tiny.sh OUT BITS: the tiny images committed (gzipped) as fuzz seeds in
# fat/testdata. BITS=12 gives a 64 KiB FAT12 volume holding a long name, a
# subdirectory, a deleted file and a fragmented file. BITS=32 gives an empty
# 256 KiB volume in the FAT32 layout with fewer clusters than FAT32 normally
# has: mkfs.fat makes it with a warning and Linux reads it as FAT32, but
# mtools and TSK go by cluster count and cannot, so it stays empty.
set -euo pipefail
out=${1:?usage: tiny.sh OUT BITS}
bits=${2:?12 or 32}
export MTOOLS_SKIP_CHECK=1 LC_ALL=C.UTF-8 TZ=UTC
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -f "$out"
if [ "$bits" = 12 ]; then
	mkfs.fat -C -F 12 -s 1 -r 16 -n TINY -i 0000F12A "$out" 64 >/dev/null
else
	mkfs.fat -C -F 32 -s 1 -n TINY -i 0000F32A "$out" 256 2>/dev/null >/dev/null
	exit 0
fi
printf 'hello\n' >"$work/hello.txt"
printf 'long\n' >"$work/Long File Name.txt"
head -c 700 /dev/zero | tr '\0' a >"$work/a"
head -c 700 /dev/zero | tr '\0' b >"$work/b"
head -c 3000 /dev/zero | tr '\0' f >"$work/frag.bin"
touch -d '2020-01-02 03:04:06' "$work"/*
mcopy -i "$out" -m "$work/hello.txt" "$work/Long File Name.txt" "$work/a" "$work/b" ::/
mmd -i "$out" ::/Sub
mcopy -i "$out" -m "$work/hello.txt" ::/Sub/inner.txt
mdel -i "$out" ::/a
mcopy -i "$out" -m "$work/frag.bin" ::/Sub/
