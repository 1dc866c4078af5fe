#!/usr/bin/env bash
# seeds.sh OUTDIR: small (1 MiB) real disks whose tables seed the fuzz tests
# of partition (committed gzipped as partition/testdata/*.img.gz):
#   mbr-small.img     DOS table, extended partition with three logicals
#   gpt-small.img     GPT (512-byte sectors) with three named partitions
#   hybrid-small.img  gpt-small.img with a hybrid MBR (sgdisk -h 1:2:EE)
#   gpt4k-small.img   GPT for 4096-byte sectors (fdisk -b 4096)
#   mbr-empty-small.img  a whole-disk ext2 behind an empty DOS label (mke2fs,
#                     then sfdisk writes sector 0 only)
set -euo pipefail
dir=${1:?usage: seeds.sh OUTDIR}
mkdir -p "$dir"
new() { rm -f "$1"; truncate -s 1M "$1"; }

new "$dir/mbr-small.img"
sfdisk --quiet --no-reread --no-tell-kernel "$dir/mbr-small.img" <<'SFDISK'
label: dos
label-id: 0x5eed0001
unit: sectors

1 : start=64, size=256, type=83, bootable
2 : start=320, size=1024, type=5
3 : start=1344, size=128, type=7
5 : start=384, size=128, type=83
6 : start=576, size=256, type=82
7 : start=896, size=256, type=8e
SFDISK

new "$dir/mbr-empty-small.img"
E2FSPROGS_FAKE_TIME=1700000000 mke2fs -q -F -t ext2 -U 5eed0002-0000-4000-8000-000000000000 "$dir/mbr-empty-small.img"
printf 'label: dos\nlabel-id: 0x5eed0002\n' | sfdisk --quiet --no-reread --no-tell-kernel --wipe never "$dir/mbr-empty-small.img"

new "$dir/gpt-small.img"
sgdisk -a 8 -n 1:64:+128K -t 1:EF00 -c 1:EFI -n 2:0:+256K -t 2:8300 -c 2:root \
	-n 4:0:+64K -t 4:0700 -c 4:"Basic data" -A 4:set:2 "$dir/gpt-small.img" >/dev/null
cp "$dir/gpt-small.img" "$dir/hybrid-small.img"
sgdisk -h 1:2:EE "$dir/hybrid-small.img" >/dev/null

script=$(mktemp)
trap 'rm -f "$script"' EXIT
cat >"$script" <<'SFDISK'
label: gpt
unit: sectors
first-lba: 6

1 : start=8, size=64, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI"
3 : start=72, size=128, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="root"
SFDISK
new "$dir/gpt4k-small.img"
printf 'I\n%s\nw\n' "$script" | fdisk -b 4096 "$dir/gpt4k-small.img" >/dev/null
