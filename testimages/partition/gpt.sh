#!/usr/bin/env bash
# gpt.sh OUT: a 64 MiB sparse disk with a GPT (512-byte sectors) holding
# partitions of assorted types, names (one non-ASCII) and attributes, and two
# unused entries (5, 6) before entry 7, so entry numbering is exercised.
set -euo pipefail
out=${1:?usage: gpt.sh OUT}
rm -f "$out"
truncate -s 64M "$out"
sgdisk -o \
	-n 1:1M:+8M -t 1:EF00 -c 1:"EFI System" \
	-n 2:0:+4M -t 2:0C01 -c 2:"Microsoft reserved partition" \
	-n 3:0:+12M -t 3:0700 -c 3:"Basic data" -A 3:set:2 -A 3:set:63 \
	-n 4:0:+8M -t 4:8300 -c 4:"données" \
	-n 7:0:+6M -t 7:8200 -c 7:swap \
	-n 8:0:0 -t 8:8E00 -c 8:lvm \
	"$out" >/dev/null
