#!/bin/bash
# esp.sh OUT: a bare FAT32 filesystem laid out like an EFI system partition
# (100 MiB, 512-byte clusters, as a Windows installer makes it on 512-byte
# sector disks), with the usual boot loaders. Contents are random bytes.
set -euo pipefail
out=${1:?usage: esp.sh OUT}
export MTOOLS_SKIP_CHECK=1 LC_ALL=C.UTF-8 TZ=UTC
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
t=$work/t
mkdir -p "$t/EFI/BOOT" "$t/EFI/Microsoft/Boot/en-US" "$t/EFI/debian" "$t/EFI/Linux" "$t/loader/entries"
head -c 1200000 /dev/urandom >"$t/EFI/BOOT/BOOTX64.EFI"
head -c 90000 /dev/urandom >"$t/EFI/BOOT/fbx64.efi"
head -c 2500000 /dev/urandom >"$t/EFI/Microsoft/Boot/bootmgfw.efi"
head -c 32768 /dev/urandom >"$t/EFI/Microsoft/Boot/BCD"
head -c 70000 /dev/urandom >"$t/EFI/Microsoft/Boot/en-US/bootmgfw.efi.mui"
head -c 950000 /dev/urandom >"$t/EFI/debian/shimx64.efi"
head -c 2600000 /dev/urandom >"$t/EFI/debian/grubx64.efi"
printf 'search.fs_uuid 1234-abcd root\nset prefix=($root)/boot/grub\nconfigfile $prefix/grub.cfg\n' >"$t/EFI/debian/grub.cfg"
printf 'title Debian\nlinux /vmlinuz\n' >"$t/loader/entries/debian.conf"
printf 'default debian.conf\ntimeout 3\n' >"$t/loader/loader.conf"
find "$t" -exec touch -h -d '2024-03-01 08:30:00' {} +

rm -f "$out"
mkfs.fat -C -F 32 -s 1 -n ESP -i 5EF1C0DE "$out" $((100 * 1024)) >/dev/null
mcopy -i "$out" -s -m -Q "$t"/* ::/
