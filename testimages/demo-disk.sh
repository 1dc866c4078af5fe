#!/usr/bin/env bash
# Builds a small GPT disk image like a Linux VM's: an EFI system partition
# (FAT32, made by mkfs.fat + mtools) and an ext4 root (mke2fs -d).
#   demo-disk.sh OUT.raw [VERSION]
# VERSION (default 1) changes a few files, to make a second point.
set -euo pipefail
out=$1
ver=${2:-1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The guest's root tree.
root=$work/root
mkdir -p "$root"/{etc,home/ann/Documents,var/log,usr/bin}
echo "demo-vm" >"$root/etc/hostname"
printf 'Welcome to the demo VM, version %s\n' "$ver" >"$root/etc/motd"
for i in $(seq 1 200); do echo "log line $i of boot $ver"; done >"$root/var/log/boot.log"
printf 'Quarterly report, draft %s\n' "$ver" >"$root/home/ann/Documents/report.txt"
head -c 3145728 /dev/urandom >"$root/home/ann/Documents/photo.bin"
[ "$ver" -ge 2 ] && echo "added in version $ver" >"$root/home/ann/Documents/notes.txt"
cp /bin/ls "$root/usr/bin/ls"
ln -s ../etc/hostname "$root/home/ann/hostname-link"
touch -d '2026-11-20 01:00:00 UTC' "$root/etc/hostname"

# A 128 MiB GPT disk: 40 MiB ESP, the rest ext4.
rm -f "$out"
truncate -s 128M "$out"
sgdisk -o -n 1:1MiB:+40MiB -t 1:ef00 -c 1:"EFI system" -n 2:0:0 -t 2:8300 -c 2:root "$out" >/dev/null

esp=$work/esp.img
truncate -s 40M "$esp"
mkfs.fat -F 32 -s 1 -n ESP "$esp" >/dev/null
mmd -i "$esp" ::/EFI ::/EFI/BOOT
printf 'not really a boot loader\n' >"$work/BOOTX64.EFI"
mcopy -i "$esp" "$work/BOOTX64.EFI" ::/EFI/BOOT/
dd if="$esp" of="$out" bs=1M seek=1 conv=notrunc status=none

start=$(sgdisk -i 2 "$out" | awk '/First sector/ {print $3}')
end=$(sgdisk -i 2 "$out" | awk '/Last sector/ {print $3}')
rootfs=$work/root.img
truncate -s $(( (end - start + 1) * 512 )) "$rootfs"
mke2fs -q -F -t ext4 -L root -U 2a1b5c3d-0000-4000-8000-00000000d3e0 -E root_owner=0:0 -d "$root" "$rootfs"
dd if="$rootfs" of="$out" bs=512 seek="$start" conv=notrunc status=none
