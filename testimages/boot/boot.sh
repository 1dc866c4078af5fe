#!/usr/bin/env bash
# Builds a 4 MiB raw BIOS boot disk for the instant-recovery boot test:
# LBA 0 is boot.S (assembled with as, linked at 0x7c00 with ld, flattened
# with objcopy), LBA 8 holds MARKER (a line, NUL-terminated) for the boot
# sector to read and print, LBA 9 is zeros for it to overwrite, and 1-3
# MiB hold random data so the disk has more than one chunk.
#   boot.sh OUT.raw MARKER
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$1 marker=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

as --32 -o "$work/boot.o" "$here/boot.S"
ld -m elf_i386 -Ttext=0x7c00 -e _start -o "$work/boot.elf" "$work/boot.o"
objcopy -O binary -j .text "$work/boot.elf" "$work/boot.bin"
size=$(stat -c %s "$work/boot.bin")
[ "$size" = 512 ] || { echo "boot.sh: boot sector is $size bytes, want 512" >&2; exit 1; }

rm -f "$out"
truncate -s 4M "$out"
dd if="$work/boot.bin" of="$out" conv=notrunc status=none
printf '%s\r\n\0' "$marker" | dd of="$out" bs=512 seek=8 conv=notrunc status=none
head -c 2097152 /dev/urandom | dd of="$out" bs=1M seek=1 conv=notrunc status=none
