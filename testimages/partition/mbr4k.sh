#!/usr/bin/env bash
# mbr4k.sh OUT: a 64 MiB sparse disk with a DOS partition table for 4096-byte
# logical sectors (two primaries, an extended partition with two logicals),
# written by fdisk -b 4096 from an sfdisk-format script.
set -euo pipefail
out=${1:?usage: mbr4k.sh OUT}
script=$(mktemp)
trap 'rm -f "$script"' EXIT
cat >"$script" <<'SFDISK'
label: dos
label-id: 0x4b4b4b4b
unit: sectors

1 : start=256, size=2048, type=83, bootable
2 : start=2304, size=1024, type=82
3 : start=3328, size=8192, type=5
5 : start=3584, size=2048, type=83
6 : start=5888, size=4096, type=7
SFDISK
rm -f "$out"
truncate -s 64M "$out"
printf 'I\n%s\nw\n' "$script" | fdisk -b 4096 "$out" >/dev/null
