#!/usr/bin/env bash
# gpt4k.sh OUT: a 64 MiB sparse disk with a GPT laid out for 4096-byte
# logical sectors (header at byte 4096), written by fdisk -b 4096 from an
# sfdisk-format script. Partition 3 is left unused.
set -euo pipefail
out=${1:?usage: gpt4k.sh OUT}
script=$(mktemp)
trap 'rm -f "$script"' EXIT
cat >"$script" <<'SFDISK'
label: gpt
unit: sectors
first-lba: 6

1 : start=256, size=2048, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI"
2 : start=2304, size=4096, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="root fs"
4 : start=6400, size=1024, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name="swap"
SFDISK
rm -f "$out"
truncate -s 64M "$out"
printf 'I\n%s\nw\n' "$script" | fdisk -b 4096 "$out" >/dev/null
