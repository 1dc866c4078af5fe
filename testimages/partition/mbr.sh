#!/usr/bin/env bash
# mbr.sh OUT: a 64 MiB sparse disk with a DOS partition table: primaries in
# slots 1, 2 and 4, an extended (0x0f) partition in slot 3 holding four
# logical partitions (Linux numbers them 5-8), slot 1 marked bootable.
set -euo pipefail
out=${1:?usage: mbr.sh OUT}
rm -f "$out"
truncate -s 64M "$out"
sfdisk --quiet --no-reread --no-tell-kernel "$out" <<'SFDISK'
label: dos
label-id: 0x1234abcd
unit: sectors

1 : start=2048, size=8192, type=83, bootable
2 : start=10240, size=16384, type=7
3 : start=26624, size=81920, type=f
4 : start=108544, size=8192, type=82
5 : start=28672, size=8192, type=83
6 : start=38912, size=12288, type=8e
7 : start=53248, size=4096, type=c
8 : start=59392, size=49152, type=83
SFDISK
